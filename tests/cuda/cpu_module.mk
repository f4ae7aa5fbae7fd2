# tests/cuda/cpu_module.mk - GNU make rule for tests/cuda/libikada-cuda-cpu.so,
# the CPU stand-in of the CUDA module (tests/cuda/cpu_module.c), run by
# tests/cuda/Makefile.inc's rule with the variables below set: cpu_module.c,
# the stand-in, and the CPU kernels and base/ it calls, compiled again
# position-independent (libikada.a is not). A file of its own because
# automake's portability checks refuse GNU make's $(filter).
#
# In: srcdir, builddir, CC, CFLAGS (the build's, warnings included), SOURCES
#     (libikada_a_SOURCES), LIBS, OUT (the module's path).
SRCS := tests/cuda/cpu_module.c tests/cuda/cpu_ops.c tests/cuda/cpu_ops_attention.c tests/cuda/cpu_ops_mamba.c $(filter kernels/cpu/%.c base/%.c,$(SOURCES))

$(OUT): $(SRCS:%=$(srcdir)/%) $(srcdir)/tests/cuda/cpu_ops.h $(srcdir)/tests/cuda/cpu_ops_int.h \
	  $(srcdir)/kernels/cuda/cuda_ops.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I$(srcdir) -I$(builddir) -shared -fPIC -fvisibility=hidden -o $@ \
	  $(SRCS:%=$(srcdir)/%) $(LIBS) -lm
