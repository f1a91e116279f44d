char c = 'x
double y;
