// The few functions of FAISS's C API (faiss/c_api/*.h) that index/vectors.c calls, implemented
// over the C++ library. Debian's libfaiss-dev ships the C API headers but not libfaiss_c, so
// this is the project's only C++: each function catches every exception and turns it into a
// status code plus a message for faiss_get_last_error(), exactly as the upstream C API does.
// Where a real libfaiss_c exists, this file can be dropped and that library linked instead.
#include <exception>
#include <string>

#include <faiss/AutoTune.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexIDMap.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>

#include <faiss/c_api/AutoTune_c.h>
#include <faiss/c_api/index_factory_c.h>

#include <faiss/c_api/IndexFlat_c.h>
#include <faiss/c_api/Index_c.h>
#include <faiss/c_api/MetaIndexes_c.h>
#include <faiss/c_api/error_c.h>
#include <faiss/c_api/index_io_c.h>

namespace {

// Thread-local like upstream: each thread sees the message of its own last failure.
thread_local std::string last_error;

template <typename F> int guarded(F &&f) {
    try {
        f();
        return 0;
    } catch (const faiss::FaissException &e) {
        last_error = e.what();
        return FAISS_EXCEPT;
    } catch (const std::exception &e) {
        last_error = e.what();
        return STD_EXCEPT;
    } catch (...) {
        last_error = "unknown exception";
        return UNKNOWN_EXCEPT;
    }
}

faiss::Index *cpp(FaissIndex *i) {
    return reinterpret_cast<faiss::Index *>(i);
}
const faiss::Index *cpp(const FaissIndex *i) {
    return reinterpret_cast<const faiss::Index *>(i);
}
FaissIndex *c(faiss::Index *i) {
    return reinterpret_cast<FaissIndex *>(i);
}

} // namespace

extern "C" {

const char *faiss_get_last_error() {
    return last_error.c_str();
}

void faiss_Index_free(FaissIndex *index) {
    delete cpp(index);
}
int faiss_Index_d(const FaissIndex *index) {
    return static_cast<int>(cpp(index)->d);
}
idx_t faiss_Index_ntotal(const FaissIndex *index) {
    return cpp(index)->ntotal;
}

int faiss_IndexFlatIP_new_with(FaissIndexFlatIP **p_index, idx_t d) {
    return guarded([&] { *p_index = c(new faiss::IndexFlatIP(d)); });
}

int faiss_IndexIDMap2_new(FaissIndexIDMap2 **p_index, FaissIndex *index) {
    return guarded([&] { *p_index = c(new faiss::IndexIDMap2(cpp(index))); });
}

void faiss_IndexIDMap2_set_own_fields(FaissIndexIDMap2 *index, int own) {
    reinterpret_cast<faiss::IndexIDMap2 *>(index)->own_fields = own != 0;
}

int faiss_Index_add_with_ids(FaissIndex *index, idx_t n, const float *x, const idx_t *xids) {
    return guarded([&] { cpp(index)->add_with_ids(n, x, xids); });
}

int faiss_Index_search(const FaissIndex *index, idx_t n, const float *x, idx_t k, float *distances,
                       idx_t *labels) {
    return guarded([&] { cpp(index)->search(n, x, k, distances, labels); });
}

int faiss_Index_reconstruct(const FaissIndex *index, idx_t key, float *recons) {
    return guarded([&] { cpp(index)->reconstruct(key, recons); });
}

int faiss_index_factory(FaissIndex **p_index, int d, const char *description,
                        FaissMetricType metric) {
    return guarded([&] {
        *p_index = c(faiss::index_factory(d, description, static_cast<faiss::MetricType>(metric)));
    });
}

int faiss_ParameterSpace_new(FaissParameterSpace **space) {
    return guarded(
        [&] { *space = reinterpret_cast<FaissParameterSpace *>(new faiss::ParameterSpace()); });
}

void faiss_ParameterSpace_free(FaissParameterSpace *space) {
    delete reinterpret_cast<faiss::ParameterSpace *>(space);
}

int faiss_ParameterSpace_set_index_parameters(const FaissParameterSpace *space, FaissIndex *index,
                                              const char *params) {
    return guarded([&] {
        reinterpret_cast<const faiss::ParameterSpace *>(space)->set_index_parameters(cpp(index),
                                                                                     params);
    });
}

int faiss_write_index_fname(const FaissIndex *idx, const char *fname) {
    return guarded([&] { faiss::write_index(cpp(idx), fname); });
}

int faiss_read_index_fname(const char *fname, int io_flags, FaissIndex **p_out) {
    return guarded([&] { *p_out = c(faiss::read_index(fname, io_flags)); });
}

FaissIndexIDMap2 *faiss_IndexIDMap2_cast(FaissIndex *index) {
    return reinterpret_cast<FaissIndexIDMap2 *>(dynamic_cast<faiss::IndexIDMap2 *>(cpp(index)));
}

FaissIndex *faiss_IndexIDMap2_sub_index(FaissIndexIDMap2 *index) {
    return reinterpret_cast<FaissIndex *>(reinterpret_cast<faiss::IndexIDMap2 *>(index)->index);
}

void faiss_IndexIDMap2_id_map(FaissIndexIDMap2 *index, idx_t **p_id_map, size_t *p_size) {
    auto *m = reinterpret_cast<faiss::IndexIDMap2 *>(index);
    *p_id_map = m->id_map.data();
    *p_size = m->id_map.size();
}

FaissIndexFlat *faiss_IndexFlat_cast(FaissIndex *index) {
    return reinterpret_cast<FaissIndexFlat *>(dynamic_cast<faiss::IndexFlat *>(cpp(index)));
}

void faiss_IndexFlat_xb(FaissIndexFlat *index, float **p_xb, size_t *p_size) {
    auto *f = reinterpret_cast<faiss::IndexFlat *>(index);
    *p_xb = f->get_xb();
    *p_size = f->codes.size() / sizeof(float);
}

} // extern "C"
