//===- TestPlans.h - Hand-built training plans for the exec tests ---------===//
//
// Plans built directly as protos, the way exportPlan will build them: params
// and states packed into the persistent region, inputs into the input region
// and temporaries into the arena, 64-byte aligned, without reuse.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_TESTS_UNIT_EXEC_TESTPLANS_H
#define STRATA_TESTS_UNIT_EXEC_TESTPLANS_H

#include "../runtime/TestFiles.h"

#include "plan.pb.h"

#include "gtest/gtest.h"

#include <initializer_list>
#include <string>
#include <vector>

namespace strata::exec::testing {

using runtime::testing::errorMessage;
using runtime::testing::expectMessage;
using runtime::testing::readFile;
using runtime::testing::ScratchDir;
using runtime::testing::writeFile;

/// Adds buffers and kernels to a plan, laying the buffers out.
class PlanBuilder {
public:
  explicit PlanBuilder(std::string model) {
    plan.set_version(1);
    plan.set_model(std::move(model));
    plan.set_accumulate(1);
    plan.set_seed(7);
  }

  int param(const std::string &name, std::vector<int64_t> shape,
            plan::InitKind init, std::vector<double> args) {
    int id = add(name, plan::PARAM, plan::F32, shape, persistentBytes);
    plan::Buffer &buffer = *plan.mutable_buffers(id);
    buffer.set_init(init);
    for (double arg : args)
      buffer.add_init_args(arg);
    return id;
  }
  int state(const std::string &param, const std::string &kind,
            const std::string &suffix) {
    const plan::Buffer &of = plan.buffers(find(param));
    std::vector<int64_t> shape(of.shape().begin(), of.shape().end());
    int id = add(param + "." + suffix, plan::STATE, plan::F32, shape,
                 persistentBytes);
    plan.mutable_buffers(id)->set_state_of(param);
    plan.mutable_buffers(id)->set_state_kind(kind);
    return id;
  }
  int input(const std::string &name, plan::DType dtype,
            std::vector<int64_t> shape, int64_t indexBound = 0) {
    int id = add(name, plan::INPUT, dtype, shape, inputBytes);
    plan.mutable_buffers(id)->set_index_bound(indexBound);
    return id;
  }
  int temp(const std::string &name, plan::DType dtype,
           std::vector<int64_t> shape) {
    return add(name, plan::TEMP, dtype, shape, arenaBytes);
  }

  plan::Kernel &kernel(plan::Program &program, const std::string &op,
                       std::initializer_list<int> inputs,
                       std::initializer_list<int> outputs) {
    plan::Kernel &kernel = *program.add_kernels();
    kernel.set_op(op);
    for (int id : inputs)
      kernel.add_inputs(id);
    for (int id : outputs)
      kernel.add_outputs(id);
    kernel.set_location("test.sg:" + std::to_string(++line) + ":3");
    return kernel;
  }

  int find(const std::string &name) const {
    for (const plan::Buffer &buffer : plan.buffers())
      if (buffer.name() == name)
        return buffer.id();
    ADD_FAILURE() << "no buffer " << name;
    return -1;
  }

  /// Sets the region sizes; every program gets the whole arena.
  plan::Plan finish() {
    plan.set_persistent_bytes(persistentBytes);
    plan.set_input_bytes(inputBytes);
    plan.set_arena_bytes(arenaBytes);
    for (plan::Program *program : {plan.mutable_grad(), plan.mutable_apply()})
      program->set_arena_bytes(arenaBytes);
    if (plan.forward().kernels_size() == 0)
      plan.clear_forward();
    return plan;
  }

  plan::Plan plan;

private:
  int add(const std::string &name, plan::BufferRole role, plan::DType dtype,
          const std::vector<int64_t> &shape, uint64_t &region) {
    plan::Buffer &buffer = *plan.add_buffers();
    int id = plan.buffers_size() - 1;
    buffer.set_id(id);
    buffer.set_name(name);
    buffer.set_role(role);
    buffer.set_dtype(dtype);
    uint64_t bytes = 4;
    for (int64_t dim : shape) {
      buffer.add_shape(dim);
      bytes *= uint64_t(dim);
    }
    buffer.set_size_bytes(bytes);
    buffer.set_offset(region);
    region += (bytes + 63) / 64 * 64;
    return id;
  }

  uint64_t persistentBytes = 0, inputBytes = 0, arenaBytes = 0;
  int line = 0;
};

inline plan::Attribute floatAttr(double value) {
  plan::Attribute attr;
  attr.set_f(value);
  return attr;
}
inline plan::Attribute intAttr(int64_t value) {
  plan::Attribute attr;
  attr.set_i(value);
  return attr;
}
inline plan::Attribute stringAttr(const std::string &value) {
  plan::Attribute attr;
  attr.set_s(value);
  return attr;
}
inline plan::Attribute intsAttr(std::initializer_list<int64_t> values) {
  plan::Attribute attr;
  for (int64_t value : values)
    attr.mutable_ints()->add_values(value);
  return attr;
}
inline plan::Attribute floatsAttr(std::initializer_list<double> values) {
  plan::Attribute attr;
  for (double value : values)
    attr.mutable_floats()->add_values(value);
  return attr;
}

struct ModelOptions {
  int64_t batch = 4, seq = 8, vocab = 16;
  int accumulate = 1;
  double lr = 0.05;
  /// The initial std of the weights; a huge one overflows the logits.
  double initStd = 0.1;
};

/// A linear model on one-hot tokens, trained with AdamW:
///   logits = one_hot(tokens) @ w + b        [B, T, V]
///   loss   = cross_entropy(logits, targets)
/// with its backward written out as kernels (cross_entropy_grad, matmul with
/// transpose_a, reduce sum), gradients accumulated into STATE buffers, and an
/// apply program of lr_schedule + adamw_update + zero per parameter. It can
/// learn the bigram table of the synthetic token stream.
inline plan::Plan linearModelPlan(const ModelOptions &options = {}) {
  PlanBuilder b("linear");
  int64_t B = options.batch, T = options.seq, V = options.vocab;
  int w = b.param("w", {V, V}, plan::NORMAL, {0.0, options.initStd});
  int bias = b.param("b", {V}, plan::ZEROS, {});
  for (const char *p : {"w", "b"}) {
    b.state(p, "grad", "grad");
    b.state(p, "adam_m", "m");
    b.state(p, "adam_v", "v");
  }
  int tokens = b.input("tokens", plan::I32, {B, T}, V);
  int targets = b.input("targets", plan::I32, {B, T}, V);
  int step = b.input("step", plan::I32, {});

  plan::Program &grad = *b.plan.mutable_grad();
  grad.set_name("linear.grad");
  grad.add_inputs(tokens);
  grad.add_inputs(targets);
  int onehot = b.temp("onehot", plan::F32, {B, T, V});
  b.kernel(grad, "one_hot", {tokens}, {onehot})
      .mutable_attrs()
      ->insert({"num_classes", intAttr(V)});
  int mm = b.temp("mm", plan::F32, {B, T, V});
  b.kernel(grad, "matmul", {onehot, w}, {mm});
  int logits = b.temp("logits", plan::F32, {B, T, V});
  b.kernel(grad, "add", {mm, bias}, {logits});
  int loss = b.temp("loss", plan::F32, {});
  b.kernel(grad, "cross_entropy", {logits, targets}, {loss});
  int seed = b.temp("seed", plan::F32, {});
  b.kernel(grad, "constant", {}, {seed})
      .mutable_attrs()
      ->insert({"value", floatsAttr({1.0 / options.accumulate})});
  int dlogits = b.temp("dlogits", plan::F32, {B, T, V});
  b.kernel(grad, "cross_entropy_grad", {logits, targets, seed}, {dlogits});
  int onehot2 = b.temp("onehot2d", plan::F32, {B * T, V});
  b.kernel(grad, "reshape", {onehot}, {onehot2});
  int dlogits2 = b.temp("dlogits2d", plan::F32, {B * T, V});
  b.kernel(grad, "reshape", {dlogits}, {dlogits2});
  int dw = b.temp("dw", plan::F32, {V, V});
  b.kernel(grad, "matmul", {onehot2, dlogits2}, {dw})
      .mutable_attrs()
      ->insert({"transpose_a", [] {
                  plan::Attribute attr;
                  attr.set_b(true);
                  return attr;
                }()});
  int db = b.temp("db", plan::F32, {V});
  plan::Kernel &reduce = b.kernel(grad, "reduce", {dlogits}, {db});
  reduce.mutable_attrs()->insert({"kind", stringAttr("sum")});
  reduce.mutable_attrs()->insert({"axes", intsAttr({0, 1})});
  b.kernel(grad, "accumulate", {b.find("w.grad"), dw}, {});
  b.kernel(grad, "accumulate", {b.find("b.grad"), db}, {});
  grad.add_outputs(loss);

  plan::Program &apply = *b.plan.mutable_apply();
  apply.set_name("linear.apply");
  apply.add_inputs(step);
  int lr = b.temp("lr", plan::F32, {});
  plan::Kernel &schedule = b.kernel(apply, "lr_schedule", {step}, {lr});
  schedule.mutable_attrs()->insert({"kind", stringAttr("constant")});
  schedule.mutable_attrs()->insert({"base_lr", floatAttr(options.lr)});
  schedule.mutable_attrs()->insert({"warmup_steps", intAttr(0)});
  schedule.mutable_attrs()->insert({"total_steps", intAttr(0)});
  schedule.mutable_attrs()->insert({"min_lr", floatAttr(0.0)});
  int scale = b.temp("scale", plan::F32, {});
  b.kernel(apply, "constant", {}, {scale})
      .mutable_attrs()
      ->insert({"value", floatsAttr({1.0})});
  for (const std::string p : {"w", "b"}) {
    plan::Kernel &update =
        b.kernel(apply, "adamw_update",
                 {b.find(p), b.find(p + ".grad"), b.find(p + ".m"),
                  b.find(p + ".v"), lr, scale, step},
                 {});
    update.mutable_attrs()->insert({"beta1", floatAttr(0.9)});
    update.mutable_attrs()->insert({"beta2", floatAttr(0.999)});
    update.mutable_attrs()->insert({"epsilon", floatAttr(1e-8)});
    update.mutable_attrs()->insert(
        {"weight_decay", floatAttr(p == "w" ? 0.01 : 0.0)});
  }
  for (const std::string p : {"w", "b"})
    b.kernel(apply, "zero", {b.find(p + ".grad")}, {});

  b.plan.set_accumulate(options.accumulate);
  b.plan.set_batch_size(B);
  b.plan.set_seq_len(T);
  b.plan.set_default_steps(20);
  plan::Optimizer &optimizer = *b.plan.mutable_optimizer();
  optimizer.set_kind("adamw");
  optimizer.set_lr(options.lr);
  optimizer.set_beta1(0.9);
  optimizer.set_beta2(0.999);
  optimizer.set_epsilon(1e-8);
  optimizer.set_weight_decay(0.01);
  optimizer.set_schedule("constant");
  return b.finish();
}

} // namespace strata::exec::testing

#endif // STRATA_TESTS_UNIT_EXEC_TESTPLANS_H
