/*
 * The three glibc 2.38 symbols the uWebSockets.js binary (built on a newer glibc) uses.
 * C23's strtol/strtoul/sscanf differ from the old ones only in accepting a 0b prefix for
 * base 0 or 2, which uWebSockets never parses. Only for the bench baseline.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

long __isoc23_strtol(const char *s, char **end, int base) { return strtol(s, end, base); }

unsigned long __isoc23_strtoul(const char *s, char **end, int base) { return strtoul(s, end, base); }

int __isoc23_sscanf(const char *s, const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  int n = vsscanf(s, format, ap);
  va_end(ap);
  return n;
}
