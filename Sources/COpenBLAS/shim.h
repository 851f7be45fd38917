// OpenBLAS (Debian's openblas-pthread build): cblas for BLAS, and the LAPACK
// Fortran routines lcdb uses, declared here because Debian ships no LAPACKE
// header in libopenblas-dev. blasint is 32-bit in this build (not ILP64).
#ifndef LCDB_COPENBLAS_SHIM_H
#define LCDB_COPENBLAS_SHIM_H

#include <stddef.h>
#include <cblas.h>

// LAPACK, Fortran calling convention: every argument by pointer, plus the
// hidden lengths of character arguments at the end (gfortran ABI).
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_len);
void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info, size_t uplo_len);
void dpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a, const int *lda,
             double *b, const int *ldb, int *info, size_t uplo_len);
void spotrs_(const char *uplo, const int *n, const int *nrhs, const float *a, const int *lda,
             float *b, const int *ldb, int *info, size_t uplo_len);
void dpotri_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_len);
void spotri_(const char *uplo, const int *n, float *a, const int *lda, int *info, size_t uplo_len);
void dgetrf_(const int *m, const int *n, double *a, const int *lda, int *ipiv, int *info);
void sgetrf_(const int *m, const int *n, float *a, const int *lda, int *ipiv, int *info);
void dgetrs_(const char *trans, const int *n, const int *nrhs, const double *a, const int *lda,
             const int *ipiv, double *b, const int *ldb, int *info, size_t trans_len);
void sgetrs_(const char *trans, const int *n, const int *nrhs, const float *a, const int *lda,
             const int *ipiv, float *b, const int *ldb, int *info, size_t trans_len);
void dgetri_(const int *n, double *a, const int *lda, const int *ipiv, double *work,
             const int *lwork, int *info);
void sgetri_(const int *n, float *a, const int *lda, const int *ipiv, float *work,
             const int *lwork, int *info);
// Symmetric eigendecomposition (divide and conquer): eigenvalues ascending,
// eigenvectors in the columns (column-major) when jobz = "V".
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
             double *work, const int *lwork, int *iwork, const int *liwork, int *info,
             size_t jobz_len, size_t uplo_len);

// OpenBLAS's run-time kernel choice (DYNAMIC_ARCH builds such as Debian's):
// the name of the chosen core, and the choice itself, redone after
// OPENBLAS_CORETYPE is set (see OpenBLASKernels.swift).
char *openblas_get_corename(void);
void gotoblas_dynamic_init(void);
void gotoblas_dynamic_quit(void);

#endif
