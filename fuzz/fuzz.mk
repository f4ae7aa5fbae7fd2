# fuzz/fuzz.mk - the GNU make rules that build the libFuzzer targets; run by
# fuzz/run.sh (`make fuzz`, `make fuzz-regress`) with the variables below set,
# never by hand. A build of its own in fuzz-build/: the library sources that
# Makefile.am lists (less cli/, which no reader needs, and with the CUDA-less
# device), compiled again with clang and the fuzzer's coverage, ASan and UBSan.
#
# In:  srcdir, FUZZ_CC, AR, FUZZ_SOURCES (libikada_a_SOURCES), FUZZ_TARGETS,
#      FUZZ_DEPS_CFLAGS, FUZZ_LIBS (the libraries' flags, from configure).
O = fuzz-build
SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
CFLAGS_FZ = -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra $(SAN) -fsanitize=fuzzer-no-link \
	-I$(srcdir) $(FUZZ_DEPS_CFLAGS) -MMD -MP

LIB_SRCS := $(sort $(filter-out cli/% kernels/device_cuda.c,$(filter %.c,$(FUZZ_SOURCES))) \
	kernels/device_none.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(O)/obj/%.o)
UTIL_OBJ := $(O)/obj/fuzz/fuzz_util.o
TARGET_OBJS := $(FUZZ_TARGETS:%=$(O)/obj/fuzz/fz_%.o)
BINS := $(FUZZ_TARGETS:%=$(O)/fz_%)

all: $(BINS)

# The harnesses are new code: warnings are errors there, as in the project.
$(O)/obj/fuzz/%.o: $(srcdir)/fuzz/%.c
	@mkdir -p $(@D)
	@echo "  FUZZCC   $<"
	@$(FUZZ_CC) $(CFLAGS_FZ) -Werror -c -o $@ $<

$(O)/obj/%.o: $(srcdir)/%.c
	@mkdir -p $(@D)
	@echo "  FUZZCC   $<"
	@$(FUZZ_CC) $(CFLAGS_FZ) -c -o $@ $<

$(O)/libikada-fuzz.a: $(LIB_OBJS)
	@rm -f $@
	@$(AR) crs $@ $(LIB_OBJS)

$(O)/fz_%: $(O)/obj/fuzz/fz_%.o $(UTIL_OBJ) $(O)/libikada-fuzz.a
	@echo "  FUZZLD   $@"
	@$(FUZZ_CC) $(SAN) -fsanitize=fuzzer -o $@ $< $(UTIL_OBJ) $(O)/libikada-fuzz.a $(FUZZ_LIBS)

.PHONY: all
.SECONDARY:
-include $(LIB_OBJS:.o=.d) $(UTIL_OBJ:.o=.d) $(TARGET_OBJS:.o=.d)
