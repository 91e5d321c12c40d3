/* ferry-importer: not built yet. */
#include <stdio.h>

int main(void)
{
    fprintf(stderr, "ferry-importer: not built yet\n");
    return 1;
}
