/* The keymap's tests (keymap-test.c, layout-test.c), run by bridge-test.c's main. */
#ifndef PSM_KEYMAP_TEST_H
#define PSM_KEYMAP_TEST_H
/* Returns the number of failed checks (each is printed). */
int keymap_tests(void);
/* The keyboard layouts' tests (layout-test.c), run by keymap_tests. */
int layout_tests(void);
#endif
