//===- Gemm.cpp - Matrix products through cuBLASLt ------------------------===//
//
// Host code only: descriptors, the heuristic query, and cublasLtMatmul. The
// row-major/column-major swap is described in Gemm.h; in this file "lt" names
// cuBLASLt's (column-major) view: ltA is our B, ltB is our A, ltD is Cᵀ.
//
//===----------------------------------------------------------------------===//

#include "strata/Cuda/Gemm.h"

#include <string>

using namespace strata::cuda;

namespace {

GemmStatus failure(cublasStatus_t code, const std::string &what) {
  return GemmStatus{code, what + ": " + cublasLtGetStatusName(code) + " (" +
                              cublasLtGetStatusString(code) + ")"};
}

GemmStatus invalid(const std::string &why) {
  return GemmStatus{CUBLAS_STATUS_INVALID_VALUE, "invalid gemm: " + why};
}

#define RETURN_IF_CUBLAS(expr)                                                 \
  do {                                                                         \
    cublasStatus_t status_ = (expr);                                           \
    if (status_ != CUBLAS_STATUS_SUCCESS)                                      \
      return failure(status_, #expr);                                          \
  } while (false)

/// The largest power of two (up to 256) that divides the address: cuBLASLt's
/// kernels need their operands aligned to 16 bytes for the vector loads and
/// the bulk copy engine, and the heuristic must not pick one that does.
int alignmentOf(const void *p) {
  auto address = reinterpret_cast<uintptr_t>(p);
  if (address == 0)
    return 256;
  uintptr_t lowBit = address & (~address + 1);
  return lowBit > 256 ? 256 : int(lowBit);
}

cublasLtEpilogue_t ltEpilogue(GemmEpilogue e) {
  switch (e) {
  case GemmEpilogue::None:
    return CUBLASLT_EPILOGUE_DEFAULT;
  case GemmEpilogue::Bias:
    return CUBLASLT_EPILOGUE_BIAS;
  case GemmEpilogue::BiasGelu:
    return CUBLASLT_EPILOGUE_GELU_AUX_BIAS;
  case GemmEpilogue::BiasGeluNoAux:
    return CUBLASLT_EPILOGUE_GELU_BIAS;
  case GemmEpilogue::DGelu:
    return CUBLASLT_EPILOGUE_DGELU;
  case GemmEpilogue::DGeluBiasGrad:
    return CUBLASLT_EPILOGUE_DGELU_BGRAD;
  // The swap exchanges the operands, so their bias gradients swap names.
  case GemmEpilogue::BiasGradA:
    return CUBLASLT_EPILOGUE_BGRADB;
  case GemmEpilogue::BiasGradB:
    return CUBLASLT_EPILOGUE_BGRADA;
  }
  return CUBLASLT_EPILOGUE_DEFAULT;
}

bool usesBias(GemmEpilogue e) {
  return e == GemmEpilogue::Bias || e == GemmEpilogue::BiasGelu ||
         e == GemmEpilogue::BiasGeluNoAux;
}
bool usesAux(GemmEpilogue e) {
  return e == GemmEpilogue::BiasGelu || e == GemmEpilogue::DGelu ||
         e == GemmEpilogue::DGeluBiasGrad;
}
bool writesBiasGrad(GemmEpilogue e) {
  return e == GemmEpilogue::DGeluBiasGrad || e == GemmEpilogue::BiasGradA ||
         e == GemmEpilogue::BiasGradB;
}

/// The bias pointer cuBLASLt reads (bias) or writes (bias gradient).
const void *biasPointer(const GemmConfig &config, const GemmArgs &args) {
  if (usesBias(config.epilogue))
    return args.bias;
  if (writesBiasGrad(config.epilogue))
    return args.biasGrad;
  return nullptr;
}

GemmStatus validate(const GemmConfig &config, const GemmArgs &args) {
  const MatmulShape &s = config.shape;
  if (s.batch <= 0 || s.m <= 0 || s.n <= 0 || s.k <= 0)
    return invalid("sizes must be positive");
  if (!args.a || !args.b || !args.c)
    return invalid("a, b and c must be set");
  if (config.inputType == GemmInputType::F32 &&
      config.outputType != GemmOutputType::F32)
    return invalid("f32 operands (TF32) need an f32 C");
  GemmEpilogue e = config.epilogue;
  if (usesBias(e) && !args.bias)
    return invalid("the epilogue reads a bias");
  if (usesAux(e) && !args.aux)
    return invalid("the epilogue needs the GELU pre-activation (aux)");
  if (writesBiasGrad(e) && !args.biasGrad)
    return invalid("the epilogue writes a bias gradient");
  if (writesBiasGrad(e) && s.batch != 1)
    return invalid("bias-gradient epilogues need batch == 1");
  return GemmStatus{};
}

/// Frees the cuBLASLt objects of one plan.
struct LtObjects {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;

  ~LtObjects() {
    if (desc)
      cublasLtMatmulDescDestroy(desc);
    for (cublasLtMatrixLayout_t layout : {a, b, c})
      if (layout)
        cublasLtMatrixLayoutDestroy(layout);
  }
};

/// A column-major rows x cols layout with leading dimension ld, `batch`
/// matrices `rows * cols` elements apart.
cublasStatus_t makeLayout(cublasLtMatrixLayout_t &layout, cudaDataType type,
                          int64_t rows, int64_t cols, int64_t ld,
                          int64_t batch) {
  cublasStatus_t status = cublasLtMatrixLayoutCreate(
      &layout, type, uint64_t(rows), uint64_t(cols), ld);
  if (status != CUBLAS_STATUS_SUCCESS || batch == 1)
    return status;
  int32_t count = int32_t(batch);
  int64_t stride = rows * cols;
  status = cublasLtMatrixLayoutSetAttribute(
      layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof(count));
  if (status != CUBLAS_STATUS_SUCCESS)
    return status;
  return cublasLtMatrixLayoutSetAttribute(
      layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride,
      sizeof(stride));
}

} // namespace

struct GemmHandle::Plan {
  LtObjects lt;
  cublasLtMatmulAlgo_t algo;
};

int64_t strata::cuda::gemmAuxLeadingDim(int64_t n) { return (n + 7) / 8 * 8; }

GemmStatus GemmHandle::create(std::unique_ptr<GemmHandle> &handle,
                              size_t workspaceBytes) {
  std::unique_ptr<GemmHandle> h(new GemmHandle());
  RETURN_IF_CUBLAS(cublasLtCreate(&h->lt));
  if (workspaceBytes > 0) {
    if (cudaError_t err = cudaMalloc(&h->workspace, workspaceBytes))
      return GemmStatus{CUBLAS_STATUS_ALLOC_FAILED,
                        std::string("cudaMalloc of the gemm workspace: ") +
                            cudaGetErrorString(err)};
  }
  h->workspaceBytes = workspaceBytes;
  handle = std::move(h);
  return GemmStatus{};
}

GemmHandle::~GemmHandle() {
  plans.clear();
  if (workspace)
    cudaFree(workspace);
  if (lt)
    cublasLtDestroy(lt);
}

GemmStatus GemmHandle::makePlan(const GemmConfig &config, const GemmArgs &args,
                                Plan &plan) {
  const MatmulShape &s = config.shape;
  cudaDataType outType =
      config.outputType == GemmOutputType::F32 ? CUDA_R_32F : CUDA_R_16BF;
  bool tf32 = config.inputType == GemmInputType::F32;
  cudaDataType inType = tf32 ? CUDA_R_32F : CUDA_R_16BF;
  LtObjects &o = plan.lt;
  RETURN_IF_CUBLAS(cublasLtMatmulDescCreate(
      &o.desc, tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F,
      CUDA_R_32F));

  // ltA = B: stored [K,N] is column-major N x K (no transpose needed); stored
  // [N,K] is column-major K x N, transposed. ltB = A likewise with M.
  cublasOperation_t opA = s.transB ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasOperation_t opB = s.transA ? CUBLAS_OP_T : CUBLAS_OP_N;
  RETURN_IF_CUBLAS(cublasLtMatmulDescSetAttribute(
      o.desc, CUBLASLT_MATMUL_DESC_TRANSA, &opA, sizeof(opA)));
  RETURN_IF_CUBLAS(cublasLtMatmulDescSetAttribute(
      o.desc, CUBLASLT_MATMUL_DESC_TRANSB, &opB, sizeof(opB)));
  int64_t aRows = s.transB ? s.k : s.n, aCols = s.transB ? s.n : s.k;
  int64_t bRows = s.transA ? s.m : s.k, bCols = s.transA ? s.k : s.m;
  RETURN_IF_CUBLAS(makeLayout(o.a, inType, aRows, aCols, aRows, s.batch));
  RETURN_IF_CUBLAS(makeLayout(o.b, inType, bRows, bCols, bRows, s.batch));
  RETURN_IF_CUBLAS(makeLayout(o.c, outType, s.n, s.m, s.n, s.batch));

  cublasLtEpilogue_t epilogue = ltEpilogue(config.epilogue);
  RETURN_IF_CUBLAS(cublasLtMatmulDescSetAttribute(
      o.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof(epilogue)));
  if (usesAux(config.epilogue)) {
    int64_t ld = gemmAuxLeadingDim(s.n), stride = ld * s.m;
    RETURN_IF_CUBLAS(cublasLtMatmulDescSetAttribute(
        o.desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &ld, sizeof(ld)));
    if (s.batch > 1)
      RETURN_IF_CUBLAS(cublasLtMatmulDescSetAttribute(
          o.desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_BATCH_STRIDE, &stride,
          sizeof(stride)));
  }
  // The heuristic infers the bias and aux alignment from these pointers.
  const void *bias = biasPointer(config, args);
  RETURN_IF_CUBLAS(cublasLtMatmulDescSetAttribute(
      o.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
  if (usesAux(config.epilogue))
    RETURN_IF_CUBLAS(cublasLtMatmulDescSetAttribute(
        o.desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &args.aux,
        sizeof(args.aux)));

  cublasLtMatmulPreference_t pref = nullptr;
  RETURN_IF_CUBLAS(cublasLtMatmulPreferenceCreate(&pref));
  uint32_t alignA = uint32_t(alignmentOf(args.b)),
           alignB = uint32_t(alignmentOf(args.a)),
           alignC = uint32_t(alignmentOf(args.c));
  cublasStatus_t status = CUBLAS_STATUS_SUCCESS;
  auto setPref = [&](cublasLtMatmulPreferenceAttributes_t attr,
                     const void *value, size_t size) {
    if (status == CUBLAS_STATUS_SUCCESS)
      status = cublasLtMatmulPreferenceSetAttribute(pref, attr, value, size);
  };
  setPref(CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspaceBytes,
          sizeof(workspaceBytes));
  setPref(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &alignA, sizeof(alignA));
  setPref(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &alignB, sizeof(alignB));
  setPref(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &alignC, sizeof(alignC));
  setPref(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &alignC, sizeof(alignC));
  cublasLtMatmulHeuristicResult_t result = {};
  int found = 0;
  if (status == CUBLAS_STATUS_SUCCESS)
    status = cublasLtMatmulAlgoGetHeuristic(lt, o.desc, o.a, o.b, o.c, o.c,
                                            pref, 1, &result, &found);
  cublasLtMatmulPreferenceDestroy(pref);
  if (status != CUBLAS_STATUS_SUCCESS)
    return failure(status, "cublasLtMatmulAlgoGetHeuristic");
  if (found == 0)
    return failure(CUBLAS_STATUS_NOT_SUPPORTED,
                   "cublasLtMatmulAlgoGetHeuristic found no algorithm");
  plan.algo = result.algo;
  return GemmStatus{};
}

GemmStatus GemmHandle::matmul(const GemmConfig &config, const GemmArgs &args,
                              cudaStream_t stream) {
  if (GemmStatus status = validate(config, args); !status.ok())
    return status;
  const MatmulShape &s = config.shape;
  PlanKey key{s.batch,
              s.m,
              s.n,
              s.k,
              s.transA,
              s.transB,
              int(config.inputType),
              int(config.outputType),
              int(config.epilogue),
              config.accumulate,
              alignmentOf(args.a),
              alignmentOf(args.b),
              alignmentOf(args.c),
              alignmentOf(biasPointer(config, args)),
              usesAux(config.epilogue) ? alignmentOf(args.aux) : 0};
  auto it = plans.find(key);
  if (it == plans.end()) {
    auto plan = std::make_unique<Plan>();
    if (GemmStatus status = makePlan(config, args, *plan); !status.ok())
      return status;
    it = plans.emplace(key, std::move(plan)).first;
  }
  Plan &plan = *it->second;

  // Pointers change from call to call; the descriptor keeps only the last.
  const void *bias = biasPointer(config, args);
  RETURN_IF_CUBLAS(cublasLtMatmulDescSetAttribute(
      plan.lt.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
  if (usesAux(config.epilogue))
    RETURN_IF_CUBLAS(cublasLtMatmulDescSetAttribute(
        plan.lt.desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &args.aux,
        sizeof(args.aux)));
  float beta = config.accumulate ? 1.0f : 0.0f;
  RETURN_IF_CUBLAS(cublasLtMatmul(lt, plan.lt.desc, &args.alpha, args.b,
                                  plan.lt.a, args.a, plan.lt.b, &beta, args.c,
                                  plan.lt.c, args.c, plan.lt.c, &plan.algo,
                                  workspace, workspaceBytes, stream));
  return GemmStatus{};
}
