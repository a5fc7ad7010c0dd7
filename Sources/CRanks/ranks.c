#include "CRanks.h"

#include <limits.h>
#include <mpi.h>
#include <stdlib.h>

static int started = 0, rank = 0, count = 1;

int bsn_ranks_start(void) {
    if (started) return count;
    started = 1;
    if (getenv("OMPI_COMM_WORLD_SIZE") == NULL) return 1;
    if (MPI_Init(NULL, NULL) != MPI_SUCCESS) return 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &count);
    return count;
}

int bsn_ranks_rank(void) { return rank; }
int bsn_ranks_count(void) { return count; }

// MPI counts are ints: large buffers go in pieces.
static int sum_in_pieces(char *values, size_t n, size_t size, MPI_Datatype type) {
    if (count == 1) return 0;
    for (size_t done = 0; done < n;) {
        int piece = n - done > INT_MAX ? INT_MAX : (int)(n - done);
        int status = MPI_Allreduce(MPI_IN_PLACE, values + done * size, piece, type, MPI_SUM, MPI_COMM_WORLD);
        if (status != MPI_SUCCESS) return status;
        done += (size_t)piece;
    }
    return 0;
}

int bsn_ranks_sum_float(float *values, size_t n) { return sum_in_pieces((char *)values, n, sizeof(float), MPI_FLOAT); }
int bsn_ranks_sum_double(double *values, size_t n) { return sum_in_pieces((char *)values, n, sizeof(double), MPI_DOUBLE); }

// The sums started and not yet waited for (completed ones become MPI_REQUEST_NULL).
static MPI_Request *pending = NULL;
static int pending_count = 0, pending_capacity = 0;

int bsn_ranks_start_sum_float(float *values, size_t n) {
    if (count == 1) return 0;
    for (size_t done = 0; done < n;) {
        int piece = n - done > INT_MAX ? INT_MAX : (int)(n - done);
        if (pending_count == pending_capacity) {
            int capacity = pending_capacity == 0 ? 64 : 2 * pending_capacity;
            MPI_Request *grown = realloc(pending, (size_t)capacity * sizeof(MPI_Request));
            if (grown == NULL) return MPI_ERR_NO_MEM;
            pending = grown;
            pending_capacity = capacity;
        }
        int status = MPI_Iallreduce(MPI_IN_PLACE, values + done, piece, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &pending[pending_count]);
        if (status != MPI_SUCCESS) return status;
        pending_count += 1;
        done += (size_t)piece;
    }
    return 0;
}

int bsn_ranks_progress_sums(void) {
    if (pending_count == 0) return 0;
    int done = 0;
    return MPI_Testall(pending_count, pending, &done, MPI_STATUSES_IGNORE);
}

int bsn_ranks_finish_sums(void) {
    if (pending_count == 0) return 0;
    int status = MPI_Waitall(pending_count, pending, MPI_STATUSES_IGNORE);
    pending_count = 0;
    return status;
}

int bsn_ranks_broadcast(void *bytes, size_t n, int root) {
    if (count == 1) return 0;
    for (size_t done = 0; done < n;) {
        int piece = n - done > INT_MAX ? INT_MAX : (int)(n - done);
        int status = MPI_Bcast((char *)bytes + done, piece, MPI_BYTE, root, MPI_COMM_WORLD);
        if (status != MPI_SUCCESS) return status;
        done += (size_t)piece;
    }
    return 0;
}

int bsn_ranks_barrier(void) { return count == 1 ? 0 : MPI_Barrier(MPI_COMM_WORLD); }

void bsn_ranks_finish(void) {
    int initialised = 0, finalised = 0;
    MPI_Initialized(&initialised);
    MPI_Finalized(&finalised);
    if (initialised && !finalised) MPI_Finalize();
}

void bsn_ranks_abort(int status) {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (initialised) MPI_Abort(MPI_COMM_WORLD, status);
    exit(status);
}
