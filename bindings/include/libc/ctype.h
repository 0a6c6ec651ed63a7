/* ukrun libc subset: character classes of the "C" locale (the only one). */
#ifndef UKRUN_LIBC_CTYPE_H
#define UKRUN_LIBC_CTYPE_H

#ifdef __cplusplus
extern "C" {
#endif

int isalnum(int c);
int isalpha(int c);
int iscntrl(int c);
int isdigit(int c);
int isgraph(int c);
int islower(int c);
int isprint(int c);
int ispunct(int c);
int isspace(int c);
int isupper(int c);
int isxdigit(int c);
int tolower(int c);
int toupper(int c);

#ifdef __cplusplus
}
#endif

#endif /* UKRUN_LIBC_CTYPE_H */
