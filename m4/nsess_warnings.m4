# NSESS_CC_WARNINGS(VARIABLE)
# Probe each warning flag with the C compiler and collect those it accepts
# into VARIABLE, so one configure works with gcc and clang of any age.
AC_DEFUN([NSESS_CC_WARNINGS], [
  nsess_save_CFLAGS=$CFLAGS
  $1=
  for nsess_flag in -Wall -Wextra -Wformat=2 -Wformat-security -Wshadow \
      -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith -Wundef \
      -Wvla -Wwrite-strings -Wimplicit-fallthrough -Wnull-dereference \
      -Wno-unused-parameter -Wno-missing-field-initializers -Wno-format-truncation -fno-strict-aliasing \
      -fstack-protector-strong -D_FORTIFY_SOURCE=2; do
    AC_MSG_CHECKING([whether $CC accepts $nsess_flag])
    CFLAGS="$nsess_save_CFLAGS -Werror $nsess_flag"
    AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])],
      [AC_MSG_RESULT([yes]); $1="$$1 $nsess_flag"],
      [AC_MSG_RESULT([no])])
  done
  CFLAGS=$nsess_save_CFLAGS
])
