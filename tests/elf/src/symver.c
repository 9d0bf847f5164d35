/* libsymver.so: what the committed fixtures lack, built by tests/elf/conftest.py for each ABI.
 *
 * - f@V1 (hidden, versym bit 0x8000) and f@@V2 (the default): two definitions of one name;
 * - a versioned import from the fixtures' stub libc.so (malloc@LIBC);
 * - a protected and a weak definition, a hidden one (not exported), a weak undefined import;
 * - DT_RUNPATH with two entries (linked with --enable-new-dtags).
 */
typedef __SIZE_TYPE__ size_t;
void *malloc(size_t size);
extern void optional_hook(void) __attribute__((weak));

int f_v1(void) { return 1; }
int f_v2(void) { return 2; }
__asm__(".symver f_v1, f@V1");
__asm__(".symver f_v2, f@@V2");

__attribute__((visibility("protected"))) int protected_export(void) { return 3; }
__attribute__((weak)) int weak_export(void) { return 4; }
__attribute__((visibility("hidden"))) int hidden_helper(void) { return 5; }

void *make(void) {
  if (optional_hook) optional_hook();
  return malloc((size_t)hidden_helper());
}
