# tests/cuda/emu/emu_module.mk - GNU make rules for
# tests/cuda/libikada-cuda-emu.so: the CUDA module's own sources
# (kernels/cuda/*.cu, each rewritten by to_host.pl and compiled by the host's
# C++ compiler against cuda_emu.h) linked with the CUDA emulator
# (emu_runtime.cpp, emu_cublas.cpp) instead of libcudart and cuBLAS. Run by
# tests/cuda/Makefile.inc's rule with the variables below set; a file of its
# own, as cpu_module.mk, for GNU make's pattern rules.
#
# In: srcdir, CC (a GCC driver that compiles C++), CPPFLAGS (the CUDA
#     headers' -I), SOURCES (kernels/cuda/*.cu), HEADERS (kernels/cuda/*.h),
#     EMU_CFLAGS (more flags, e.g. sanitizers), OBJDIR, OUT (the module),
#     TEST_OUT (the emulator's own checks, test_emu.cu).
EMU := $(srcdir)/tests/cuda/emu
KOBJS := $(patsubst kernels/cuda/%.cu,$(OBJDIR)/kernels/%.o,$(SOURCES))
EOBJS := $(OBJDIR)/emu_runtime.o $(OBJDIR)/emu_cublas.o
DEPS := $(EMU)/cuda_emu.h $(HEADERS:%=$(srcdir)/%)
# -ffp-contract=off: a * b + c stays two roundings, as __fmul_rn and
# __fadd_rn promise (cuda_emu.h says what is not modelled).
FLAGS := -std=c++17 -O2 -g -fPIC -fvisibility=hidden -ffp-contract=off -Wall -Wextra -Werror \
	-I$(srcdir) $(CPPFLAGS) $(EMU_CFLAGS)

all: $(OUT) $(TEST_OUT)

$(OUT): $(KOBJS) $(EOBJS)
	@mkdir -p $(dir $@)
	$(CC) $(EMU_CFLAGS) -shared -Wl,--no-undefined -o $@ $(KOBJS) $(EOBJS) -lstdc++ -lm -ldl -lpthread

$(TEST_OUT): $(OBJDIR)/test/test_emu.o $(OBJDIR)/emu_runtime.o
	@mkdir -p $(dir $@)
	$(CC) $(EMU_CFLAGS) -o $@ $^ -lstdc++ -lm -lpthread

$(OBJDIR)/test/test_emu.cpp: $(EMU)/test_emu.cu $(EMU)/to_host.pl
	@mkdir -p $(dir $@)
	perl $(EMU)/to_host.pl $< > $@.tmp && mv $@.tmp $@

$(OBJDIR)/test/test_emu.o: $(OBJDIR)/test/test_emu.cpp $(DEPS)
	$(CC) -x c++ $(FLAGS) -include $(EMU)/cuda_emu.h -c -o $@ $<

$(OBJDIR)/kernels/%.cpp: $(srcdir)/kernels/cuda/%.cu $(EMU)/to_host.pl
	@mkdir -p $(dir $@)
	perl $(EMU)/to_host.pl $< > $@.tmp && mv $@.tmp $@

$(OBJDIR)/kernels/%.o: $(OBJDIR)/kernels/%.cpp $(DEPS)
	$(CC) -x c++ $(FLAGS) -include $(EMU)/cuda_emu.h -c -o $@ $<

$(OBJDIR)/emu_%.o: $(EMU)/emu_%.cpp $(DEPS)
	@mkdir -p $(dir $@)
	$(CC) -x c++ $(FLAGS) -c -o $@ $<

.SECONDARY:
.PHONY: all
