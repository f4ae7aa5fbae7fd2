/* tests/base/test_hash.c - SHA-256 vectors, streaming, hex, file hashing. */
#include <errno.h>

#include "base/hash.h"
#include "base/error.h"
#include "tests/common/tmpcache.h"

TestSuite(cache_hash, .init = tc_setup, .fini = tc_teardown);

static void hex_of(const void *data, size_t len, char out[IK_HASH_HEX_LEN + 1])
{
    struct ik_hash h;
    ik_hash_bytes(data, len, &h);
    ik_hash_to_hex(&h, out);
}

Test(cache_hash, known_vectors)
{
    char hex[IK_HASH_HEX_LEN + 1];
    hex_of("abc", 3, hex);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    hex_of("", 0, hex);
    cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

Test(cache_hash, streaming_matches_one_shot)
{
    const char *msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    struct ik_hasher *h = ik_hasher_new();
    for (const char *p = msg; *p; p++)
        ik_hasher_update(h, p, 1);
    struct ik_hash a, b;
    ik_hasher_final(h, &a);
    ik_hash_bytes(msg, strlen(msg), &b);
    cr_assert(ik_hash_equal(&a, &b));
    char hex[IK_HASH_HEX_LEN + 1];
    ik_hash_to_hex(&a, hex);
    cr_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

Test(cache_hash, hex_round_trip_and_rejects)
{
    struct ik_hash h, back;
    ik_hash_bytes("x", 1, &h);
    char hex[IK_HASH_HEX_LEN + 1];
    ik_hash_to_hex(&h, hex);
    cr_assert_eq(ik_hash_from_hex(hex, &back), 0);
    cr_assert(ik_hash_equal(&h, &back));
    for (char *p = hex; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 32);
    cr_assert_eq(ik_hash_from_hex(hex, &back), 0, "upper case is accepted");
    cr_assert(ik_hash_equal(&h, &back));
    hex[63] = '\0';
    cr_assert_eq(ik_hash_from_hex(hex, &back), IK_EPARSE, "63 digits");
    hex[63] = '0';
    hex[10] = 'g';
    cr_assert_eq(ik_hash_from_hex(hex, &back), IK_EPARSE, "non-hex digit");
}

Test(cache_hash, file_matches_bytes)
{
    /* Larger than the 1 MiB read block, and not a multiple of it. */
    size_t len = (3u << 20) + 17;
    unsigned char *data = malloc(len);
    for (size_t i = 0; i < len; i++)
        data[i] = (unsigned char)(i * 131 + (i >> 9));
    char *path = tc_write("big.bin", data, len);
    struct ik_hash a, b;
    uint64_t size = 0;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_hash_file(path, &a, &size, &d), 0);
    ik_hash_bytes(data, len, &b);
    cr_assert(ik_hash_equal(&a, &b));
    cr_assert_eq(size, len);
    free(path);
    free(data);
}

Test(cache_hash, missing_file_names_path)
{
    struct ik_hash h;
    struct ik_diag d = IK_DIAG_INIT;
    char *path = ik_xasprintf("%s/nope.txt", T.dir);
    cr_assert_eq(ik_hash_file(path, &h, NULL, &d), -ENOENT);
    char *want = ik_xasprintf("error: cannot open %s: No such file or directory", path);
    cr_assert_str_eq(d.text, want);
    free(want);
    free(path);
    ik_diag_free(&d);
}
