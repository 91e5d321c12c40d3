/* ferry-producer: not built yet. */
#include <stdio.h>

int main(void)
{
    fprintf(stderr, "ferry-producer: not built yet\n");
    return 1;
}
