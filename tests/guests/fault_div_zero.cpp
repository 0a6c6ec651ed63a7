// Divides by zero with idiv: a divide-error exception (#DE).

#include <stdio.h>

int main()
{
    volatile int dividend = 1;
    volatile int divisor = 0;
    printf("fault_div_zero: dividing by zero\n");
    const int quotient = dividend / divisor;
    printf("fault_div_zero: survived (%d)\n", quotient);
    return 1;
}
