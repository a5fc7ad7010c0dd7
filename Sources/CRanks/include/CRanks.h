#ifndef BSN_CRANKS_H
#define BSN_CRANKS_H

#include <stddef.h>

// ---- Ranks: the few MPI calls bsn makes, as plain functions ---------------
// MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM) are macros Swift cannot
// import; these wrap them. MPI starts only when the process was launched by
// mpirun (OMPI_COMM_WORLD_SIZE in the environment): a plain bsn never
// initialises MPI and behaves as a single process.

/// Starts MPI when launched by mpirun; returns the number of ranks (1 otherwise).
int bsn_ranks_start(void);
/// This process's rank (0 without mpirun) and the number of ranks.
int bsn_ranks_rank(void);
int bsn_ranks_count(void);
/// Sums in place across ranks. Return 0, or an MPI error code.
int bsn_ranks_sum_float(float *values, size_t count);
int bsn_ranks_sum_double(double *values, size_t count);
/// Starts summing in place across ranks without waiting (MPI_Iallreduce):
/// the values hold the sum after bsn_ranks_finish_sums. Return 0, or an MPI error code.
int bsn_ranks_start_sum_float(float *values, size_t count);
/// Lets the started sums advance (MPI_Testall).
int bsn_ranks_progress_sums(void);
/// Waits for every started sum (MPI_Waitall).
int bsn_ranks_finish_sums(void);
/// Copies `count` bytes from `root` to every rank.
int bsn_ranks_broadcast(void *bytes, size_t count, int root);
/// Waits for every rank.
int bsn_ranks_barrier(void);
/// Ends MPI (at exit; nothing without mpirun).
void bsn_ranks_finish(void);
/// Ends every rank with this status.
void bsn_ranks_abort(int status);

#endif
