// Compiled into the sanitizer build's programs only (CMakeLists.txt, TRM_SANITIZE). LeakSanitizer
// reads these rules at exit: fontconfig, which cairo uses to draw the text of `trm plot` and
// `trm solve --render`, keeps its font caches for the life of the process and never frees them,
// which is not a leak of trm's.
extern "C" const char* __lsan_default_suppressions() { return "leak:libfontconfig.so\n"; }
