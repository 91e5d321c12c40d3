/* ferry-worker: not built yet. */
#include <stdio.h>

int main(void)
{
    fprintf(stderr, "ferry-worker: not built yet\n");
    return 1;
}
