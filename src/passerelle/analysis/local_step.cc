#include "passerelle/analysis/local_step.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>

#include "passerelle/analysis/describe.h"
#include "passerelle/analysis/frames.h"
#include "passerelle/analysis/kind_support.h"
#include "passerelle/analysis/run.h"
#include "passerelle/base/memory.h"
#include "passerelle/formula/eval.h"
#include "passerelle/formula/model.h"
#include "passerelle/privacy/disclosure.h"

namespace passerelle::analysis {
// A count as released: itself when 0 or at least k, null (suppressed) otherwise.
json ReleasableCount(double count, const privacy::Policy& policy) {
  double c = count;
  privacy::SuppressSmallCounts(std::span<double>(&c, 1), policy);
  return c == c ? json(c) : json(nullptr);
}

json CountJson(double c) { return c == c ? json(c) : json(nullptr); }

json CountsJson(const std::vector<double>& counts) {
  json out = json::array();
  for (double c : counts) out.push_back(CountJson(c));
  return out;
}

Result<Labels> LabelsOf(const std::string& expression, const data::Table& table) {
  Labels labels;
  labels.expression = expression;
  ASSIGN_OR_RETURN(formula::Expr e, formula::ParseExpr(expression, "variable"));
  // The expression's values a slice of rows at a time, never the table's.
  const auto values = [&](size_t begin, size_t end) -> Result<formula::Vector> {
    if (begin == 0 && end == table.rows) return formula::Evaluate(e, table, "variable");
    return formula::Evaluate(e, data::SliceRows(table, begin, end), "variable");
  };
  const size_t first_end = std::min(table.rows, formula::kSliceRows);
  ASSIGN_OR_RETURN(formula::Vector v, values(0, first_end));
  if (v.type == formula::Vector::Type::kLogical) return labels;
  std::vector<std::string> names;
  formula::CollectNames(e, &names);
  std::vector<std::string> declared;
  for (const std::string& name : names) {
    const data::Column* column = table.Find(name);
    if (!column) continue;
    const data::VarType type = column->variable.type;
    if (type == data::VarType::kIdentifier || type == data::VarType::kText ||
        type == data::VarType::kDate) {
      labels.never_released = name;
      labels.date = type == data::VarType::kDate;
      return labels;
    }
    declared.insert(declared.end(), column->variable.levels.begin(), column->variable.levels.end());
  }
  std::map<std::string, double> held;  // each label's records
  for (size_t begin = 0, end = first_end;;) {
    const formula::Vector f = formula::AsFactor(v);
    std::vector<double> count(f.levels.size(), 0);
    for (size_t i = begin; i < end; ++i) {
      const int32_t code = f.codes[f.codes.size() == 1 ? 0 : i - begin];
      if (code >= 0) count[code] += 1;
    }
    for (size_t l = 0; l < f.levels.size(); ++l) held[f.levels[l]] += count[l];
    begin = end;
    if (begin >= table.rows) break;
    end = std::min(table.rows, begin + formula::kSliceRows);
    ASSIGN_OR_RETURN(v, values(begin, end));
  }
  for (const auto& [label, records] : held) {
    const bool public_label = std::find(declared.begin(), declared.end(), label) != declared.end();
    if (!public_label && records > 0 && (labels.fewest == 0 || records < labels.fewest)) {
      labels.fewest = records;
    }
  }
  return labels;
}

// Survival times only from a duration as stored: arithmetic on a time (t * 30) undoes the time
// grid, a date or an expression gives other patients' values. Events only from event codes
// (categories, whole numbers 0 to 9): an event that ORs in a condition on another variable
// (age_dx <= 15) or on the time itself turns the curve's counts into a count of those patients
// and their days. Decided on the request and the variables' kinds, never on a patient.
Status CheckSurvival(const formula::Formula& f, const std::string& subset, const data::Table& table,
                     const privacy::Policy& policy) {
  std::vector<std::string> times;
  for (size_t i = 0; i + 1 < f.surv.size(); ++i) {
    const formula::Expr& t = f.surv[i];
    const data::Column* column =
        t.kind == formula::Expr::Kind::kName ? table.Find(t.text) : nullptr;
    if (!column || (column->variable.type != data::VarType::kInteger &&
                    column->variable.type != data::VarType::kNumber)) {
      return PermissionDenied("rule time_arithmetic: site " + policy.site +
                              " takes survival times only from a duration variable as stored; '" +
                              formula::Deparse(t) + "' is not one");
    }
    times.push_back(t.text);
  }
  if (f.surv.empty()) return Status::Ok();
  // Nor a population chosen by a time, a duration or a date: a subset os_days <= T (or
  // rfs_days > T, or a diagnosis date) pads a cohort with records known to leave after T, and the
  // difference of two curves' counts before T is then the few patients the rest of the
  // condition tells apart, bin by bin.
  if (!subset.empty()) {
    ASSIGN_OR_RETURN(formula::Expr condition, formula::ParseExpr(subset, "subset"));
    std::vector<std::string> in_subset;
    formula::CollectNames(condition, &in_subset);
    for (const std::string& name : in_subset) {
      const data::Column* column = table.Find(name);
      if (std::find(times.begin(), times.end(), name) != times.end() ||
          (column &&
           (column->variable.type == data::VarType::kDate || column->variable.unit == "days"))) {
        return PermissionDenied("rule time_subset: site " + policy.site +
                                " does not take a survival analysis' records by a time, a "
                                "duration or a date ('" +
                                name + "' in the subset)");
      }
    }
  }
  std::vector<std::string> names;
  formula::CollectNames(f.surv.back(), &names);
  for (const std::string& name : names) {
    const data::Column* column = table.Find(name);
    const bool number = column && (column->variable.type == data::VarType::kInteger ||
                                   column->variable.type == data::VarType::kNumber);
    bool code = column && std::find(times.begin(), times.end(), name) == times.end() &&
                (column->variable.type == data::VarType::kCategory || number);
    for (size_t r = 0; number && code && r < table.rows; ++r) {
      const double v = column->Number(r);
      code = v != v || (v >= 0 && v <= 9 && v == std::floor(v));
    }
    if (!code) {
      return PermissionDenied("rule event_expression: site " + policy.site +
                              " takes an event only from event codes (categories, or whole "
                              "numbers 0 to 9); '" +
                              name + "' is not one");
    }
  }
  return Status::Ok();
}

// True when a condition (a comparison or a logical operator) sits inside arithmetic or a
// numeric function: I(age + 0.001 * (id == "x")), psa * (age == 88) give one patient a value of
// their own on a continuous carrier, which no count rule sees.
bool ConditionInArithmetic(const formula::Expr& e, bool under_arithmetic) {
  using Kind = formula::Expr::Kind;
  static const std::set<std::string> kConditions = {"==", "!=", "<", "<=",  ">",
                                                    ">=", "&",  "|", "%in%"};
  static const std::set<std::string> kPassThrough = {"I", "factor", "relevel", "c"};
  bool arithmetic = under_arithmetic;
  if ((e.kind == Kind::kBinary && kConditions.count(e.text)) ||
      (e.kind == Kind::kUnary && e.text == "!")) {
    if (under_arithmetic) return true;
    arithmetic = false;
  } else if (e.kind == Kind::kBinary || e.kind == Kind::kUnary) {
    arithmetic = e.text != "~";
  } else if (e.kind == Kind::kCall && !kPassThrough.count(e.text)) {
    arithmetic = true;
  }
  for (const formula::Expr& child : e.args) {
    if (ConditionInArithmetic(child, arithmetic)) return true;
  }
  return false;
}

Status CheckTerms(const formula::Formula& f, const privacy::Policy& policy) {
  // No term may read the response: `isup_grade ~ I(isup_grade > 2)` splits the response into
  // groups whose means, with the deviance, solve for the counts of each value (and its extremes).
  std::vector<std::string> response;
  if (f.response == formula::Formula::Response::kExpr) formula::CollectNames(f.lhs, &response);
  for (const formula::Expr& e : f.surv) formula::CollectNames(e, &response);
  for (const formula::Term& term : f.terms) {
    for (const formula::Expr& e : term.variables) {
      std::vector<std::string> names;
      formula::CollectNames(e, &names);
      for (const std::string& name : names) {
        if (std::find(response.begin(), response.end(), name) != response.end()) {
          return PermissionDenied("rule response_in_terms: site " + policy.site +
                                  " does not fit a model whose terms read its response ('" + name +
                                  "')");
        }
      }
    }
  }
  std::vector<const formula::Expr*> terms;
  for (const formula::Term& term : f.terms) {
    for (const formula::Expr& e : term.variables) terms.push_back(&e);
  }
  for (const formula::Expr& e : f.offsets) terms.push_back(&e);
  if (f.response == formula::Formula::Response::kExpr) terms.push_back(&f.lhs);
  for (const formula::Expr* e : terms) {
    if (ConditionInArithmetic(*e, false)) {
      return PermissionDenied("rule mixed_term: site " + policy.site +
                              " takes a condition as a term of its own (I(x > 1)), not inside "
                              "arithmetic on a value ('" +
                              formula::Deparse(*e) + "')");
    }
  }
  return Status::Ok();
}

struct LocalStepCache::Impl {
  static constexpr size_t kMaxModels = 16;
  std::map<std::string, std::shared_ptr<const SiteModel>> models;
};

LocalStepCache::LocalStepCache() : impl_(std::make_unique<Impl>()) {}
LocalStepCache::~LocalStepCache() = default;
void LocalStepCache::Clear() { impl_->models.clear(); }
size_t LocalStepCache::size() const { return impl_->models.size(); }

namespace {

// A set of the table's rows, its bits taken only once a row is in it.
class RowBits {
 public:
  void Set(size_t row, size_t table_rows) {
    if (bits_.empty()) bits_.assign((table_rows + 63) / 64, 0);
    bits_[row / 64] |= uint64_t{1} << (row % 64);
  }
  privacy::Cohort Cohort() { return privacy::Cohort::FromBits(std::move(bits_)); }

 private:
  std::vector<uint64_t> bits_;
};

}  // namespace

struct FrameFigures::Impl {
  bool cross_products = false;
  size_t table_rows = 0;
  bool started = false;
  formula::ModelFrame shape;  // the first frame's names and levels, without its rows
  double n = 0, omitted = 0;
  std::vector<double> sums, nonzero;
  std::vector<uint8_t> indicator;
  std::vector<double> together;  // [a * p + b], a < b: rows where both are non-zero
  RowBits cohort;
  std::vector<RowBits> ones;           // per column: rows where it is 1
  std::vector<RowBits> pairs;          // [a * p + b]: rows where both are 1
  std::map<size_t, RowBits> support;   // an interaction's non-zero rows, by column
  std::map<double, RowBits> response;  // each value's rows, while there are at most 3
  bool many_values = false;
};

FrameFigures::FrameFigures(bool cross_products, size_t table_rows)
    : impl_(std::make_unique<Impl>()) {
  impl_->cross_products = cross_products;
  impl_->table_rows = table_rows;
}
FrameFigures::~FrameFigures() = default;

void FrameFigures::Add(const formula::ModelFrame& m) {
  Impl& d = *impl_;
  d.omitted += static_cast<double>(m.n_omitted_na);
  if (m.n == 0) return;  // a slice without a row has no design
  const size_t p = m.p();
  if (!d.started) {
    d.started = true;
    d.shape.coef_names = m.coef_names;
    d.shape.column_terms = m.column_terms;
    d.shape.intercept = m.intercept;
    d.shape.all_levels = m.all_levels;
    for (const auto& [factor, levels] : m.all_levels) d.shape.used_levels[factor];
    d.sums.assign(p, 0.0);
    d.nonzero.assign(p, 0.0);
    d.indicator.assign(p, 1);
    d.together.assign(p * p, 0.0);
    d.ones.resize(p);
    d.pairs.resize(p * p);
  }
  d.n += static_cast<double>(m.n);
  for (const auto& [factor, levels] : m.used_levels) {
    std::vector<std::string>& used = d.shape.used_levels[factor];
    std::vector<std::string> merged;
    for (const std::string& level : d.shape.all_levels[factor]) {
      const auto in = [&level](const std::vector<std::string>& v) {
        return std::find(v.begin(), v.end(), level) != v.end();
      };
      if (in(used) || in(levels)) merged.push_back(level);
    }
    used = std::move(merged);
  }
  for (size_t i = 0; i < m.n; ++i) d.cohort.Set(m.rows[i], d.table_rows);
  for (size_t j = 0; j < p; ++j) {
    for (size_t i = 0; i < m.n; ++i) {
      const double x = m.X(i, j);
      d.sums[j] += x;
      d.nonzero[j] += x != 0;
      d.indicator[j] &= x == 0 || x == 1;
      if (x == 1) d.ones[j].Set(m.rows[i], d.table_rows);
    }
    if (m.coef_names[j].find(':') != std::string::npos) {
      for (size_t i = 0; i < m.n; ++i) {
        if (m.X(i, j) != 0) d.support[j].Set(m.rows[i], d.table_rows);
      }
    }
  }
  for (size_t a = 0; d.cross_products && a < p; ++a) {
    for (size_t b = a + 1; b < p; ++b) {
      for (size_t i = 0; i < m.n; ++i) {
        const double xa = m.X(i, a), xb = m.X(i, b);
        d.together[a * p + b] += xa != 0 && xb != 0;
        if (xa == 1 && xb == 1) d.pairs[a * p + b].Set(m.rows[i], d.table_rows);
      }
    }
  }
  const std::vector<double>& response = m.status.empty() ? m.y : m.status;
  for (size_t i = 0; i < m.n && !d.many_values; ++i) {
    d.response[response[i]].Set(m.rows[i], d.table_rows);
    if (d.response.size() > 3) {
      d.many_values = true;
      d.response.clear();
    }
  }
}

// What the site's rules read of a frame, and what every step releases about it.
Status FrameFigures::Finish(const data::Table& table, SiteModel* model) {
  Impl& d = *impl_;
  const formula::ModelFrame& m = d.shape;
  const size_t p = m.p();
  for (size_t j = 0; j < p; ++j) {
    model->sums.push_back(d.sums[j]);
    model->indicator.push_back(d.indicator[j]);
    // A 0/1 column's ones and zeros; any other column's non-zero records (x:I(cond) is zero
    // but for the records the condition holds).
    const std::vector<double> groups = d.indicator[j]
                                           ? std::vector<double>{d.sums[j], d.n - d.sums[j]}
                                           : std::vector<double>{d.nonzero[j]};
    for (double group : groups) {
      if (group > 0 && (model->fewest_in_column == 0 || group < model->fewest_in_column)) {
        model->fewest_in_column = group;
      }
    }
  }
  // Each pair of columns too, for a GLM: X'WX holds sum(x_a * x_b) over the records where both
  // are non-zero, which for two 0/1 columns counts their intersection and for a value crossed
  // with a rare condition adds up those patients' values. A pair non-zero together for 1 to k-1
  // records is refused like a rare column; a pair of 0/1 columns states a count for the audit.
  std::vector<std::pair<size_t, size_t>> indicator_pairs;
  for (size_t a = 0; d.cross_products && a < p; ++a) {
    for (size_t b = a + 1; b < p; ++b) {
      const double together = d.together[a * p + b];
      if (together > 0 && (model->fewest_in_column == 0 || together < model->fewest_in_column)) {
        model->fewest_in_column = together;
      }
      if (d.indicator[a] && d.indicator[b]) indicator_pairs.emplace_back(a, b);
    }
  }
  model->n = d.n;
  model->p = static_cast<double>(p);
  model->omitted = d.omitted;
  model->coef_names = m.coef_names;
  model->column_terms = m.column_terms;
  model->intercept = m.intercept;
  model->all_levels = m.all_levels;
  model->used_levels = m.used_levels;
  for (const auto& factor : m.all_levels) {
    ASSIGN_OR_RETURN(Labels labels, LabelsOf(factor.first, table));
    model->labels.push_back(std::move(labels));
  }
  model->cohort = d.cohort.Cohort();
  // Counts that follow from what every step releases: the ones of each 0/1 column (a sum coxph
  // releases, a diagonal of X'WX) and of each pair of them (X'WX), and the records with the
  // larger of a two-valued response (the events of a model, or the count an intercept-only
  // model of a 0/1 outcome gives).
  for (size_t j = 0; j < p; ++j) {
    if (d.indicator[j]) model->counts.push_back(d.ones[j].Cohort());
  }
  for (const auto& [a, b] : indicator_pairs) model->counts.push_back(d.pairs[a * p + b].Cohort());
  // A value crossed with a condition (os_days:I(cond)) is zero but where the condition holds and
  // sums over those records in every step (Cox means, X'WX): they are a population of their own,
  // so two models whose carriers differ by one patient are refused as differencing. (A plain
  // covariate's zeros add nothing: its sum over the model's rows is the same.)
  model->populations = {model->cohort};
  for (auto& [j, rows] : d.support) {
    if (d.indicator[j]) continue;
    privacy::Cohort support = rows.Cohort();
    if (support.size > 0 && support.size < d.n) model->populations.push_back(std::move(support));
  }
  // A response of two or three values is counts in disguise (its sum and sum of squares with n
  // solve for them): each value's records are a count.
  if (d.response.size() >= 2) {
    for (auto& [value, rows] : d.response) model->counts.push_back(rows.Cohort());
  }
  return Status::Ok();
}

Status DescribeFrame(const formula::ModelFrame& m, const data::Table& table, bool cross_products,
                     SiteModel* model) {
  FrameFigures figures(cross_products, table.rows);
  figures.Add(m);
  return figures.Finish(table, model);
}

Result<std::shared_ptr<const SiteModel>> BuildModel(const json& task, const data::Table& table,
                                                    ModelBuildFn build) {
  auto model = std::make_shared<SiteModel>();
  ASSIGN_OR_RETURN(formula::Formula f, formula::ParseFormula(task.value("formula", "")));
  model->formula = f;
  // The factor levels every site uses (the hub's merge of the sites' "levels" answers), so all
  // sites build the same design; without them (step "levels") the site's own.
  formula::FrameOptions options;
  if (task.contains("levels")) {
    options.levels = task.at("levels").get<std::map<std::string, std::vector<std::string>>>();
  }
  // Case weights are a variable of the dataset, never an expression: a weight computed from a
  // condition would make one patient the model.
  options.weights = task.value("weights", "");
  if (!options.weights.empty()) {
    ASSIGN_OR_RETURN(formula::Expr e, formula::ParseExpr(options.weights, "weights"));
    if (e.kind != formula::Expr::Kind::kName) {
      return PermissionDenied("rule weights_variable: weights must name a variable of the dataset");
    }
  }
  // Names only: which rows are complete for another model's variables (a propensity score's).
  options.complete_in = task.value("complete_in", std::vector<std::string>());
  for (const std::string& name : options.complete_in) {
    ASSIGN_OR_RETURN(formula::Expr e, formula::ParseExpr(name, "complete_in"));
    if (e.kind != formula::Expr::Kind::kName) return InvalidArgument("task: complete_in names");
  }
  // A Cox model weighted by a propensity score: each record's weight from the score model the
  // hub fitted, on the records complete for both models.
  if (task.contains("score")) {
    ASSIGN_OR_RETURN(options.weight_values, PropensityWeights(task, table));
  }
  RETURN_IF_ERROR(build(task, f, options, table, model.get()));
  return std::shared_ptr<const SiteModel>(std::move(model));
}

// The site's rules on a model, whatever the hub asks: cohort and model size, events, no level or
// 0/1 variable held by 1 to k-1 records (its coefficient would describe them), public labels.
Status CheckModel(const SiteModel& model, const privacy::Policy& policy) {
  RETURN_IF_ERROR(privacy::CheckCohortSize(model.n, policy));
  RETURN_IF_ERROR(privacy::CheckModelSize(model.p, model.n, model.events, policy));
  RETURN_IF_ERROR(privacy::CheckModelColumns(model.fewest_in_column, policy));
  for (const Labels& labels : model.labels) RETURN_IF_ERROR(privacy::CheckLabel(labels, policy));
  return Status::Ok();
}

Result<std::shared_ptr<const SiteModel>> ModelFor(const json& task, const data::Table& table,
                                                  LocalStepCache* cache, ModelBuildFn build) {
  if (!cache) return BuildModel(task, table, build);
  json key = task;
  for (const char* field : {"step", "beta", "null", "with_start", "with_design"}) key.erase(field);
  auto& models = cache->impl_->models;
  const auto found = models.find(key.dump());
  if (found != models.end()) return found->second;
  // A model of the factor levels every site uses follows the one of the site's own levels (its
  // "levels" step): that one is done with, and let go before the next is built.
  if (key.contains("levels")) {
    json own = key;
    own.erase("levels");
    models.erase(own.dump());
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const SiteModel> model, BuildModel(task, table, build));
  // What building it freed (slices' frames, sorting's buffers) is given back: the steps that
  // follow would not take its place, and a node's peak would be the building's plus theirs.
  ReturnFreedMemory();
  if (models.size() >= LocalStepCache::Impl::kMaxModels) models.clear();
  models.emplace(key.dump(), model);
  return std::shared_ptr<const SiteModel>(std::move(model));
}

std::string LevelsAnswer(const SiteModel& model) {
  return json{{"levels", model.all_levels}, {"used_levels", model.used_levels}}.dump();
}

Status BuildCoxSiteModel(const json& task, const formula::Formula& f,
                         const formula::FrameOptions& options, const data::Table& table,
                         SiteModel* model) {
  // The frame slice by slice: its figures added up, its rows packed into the kernel.
  FrameFigures figures(/*cross_products=*/false, table.rows);
  CoxColumnSums sums;
  stats::CoxKernel::Builder kernel;
  kernel.Reserve(table.rows);
  RETURN_IF_ERROR(formula::ForEachFrameSlice(
      f, table, formula::ModelKind::kCox, task.value("subset", ""), options, formula::kSliceRows,
      [&](formula::ModelFrame& m) {
        for (double s : m.status) model->events += s;
        for (double w : m.weights)
          model->whole_weights = model->whole_weights && w == std::floor(w);
        figures.Add(m);
        const std::vector<std::vector<double>> strata_keys = std::move(m.strata_keys);
        stats::CoxRows rows = CoxRowsFrom(std::move(m));
        sums.Add(rows);
        kernel.Add(std::move(rows), strata_keys);
        return Status::Ok();
      }));
  // The kernel sorted and packed before the figures read the labels: their columns would
  // otherwise sit beside the kernel's before its rows are packed.
  model->cox = std::make_unique<stats::CoxKernel>(std::move(kernel).Finish());
  model->mean_sums = sums.sums();
  model->mean_total = sums.total();
  return figures.Finish(table, model);
}

json ConcordanceJson(const stats::ConcordanceAggregate& c, const privacy::Policy& policy) {
  return {{"concordant", c.concordant},
          {"discordant", c.discordant},
          {"tied_x", c.tied_risk},
          {"tied_y", ReleasableCount(c.tied_time, policy)},
          {"tied_xy", ReleasableCount(c.tied_both, policy)},
          {"c2", c.c2},
          {"cm", c.cm},
          {"m2", c.m2}};
}

Result<double> FewestUndeclaredLabel(const std::string& expression, const data::Table& table) {
  ASSIGN_OR_RETURN(Labels labels, LabelsOf(expression, table));
  return labels.never_released.empty() ? labels.fewest : 0.0;
}

Result<LocalRelease> RunModelStep(const json& task, const data::Table& table,
                                  const privacy::Policy& policy, LocalStepCache* cache,
                                  ModelBuildFn build, ModelStepFn step) {
  ASSIGN_OR_RETURN(std::shared_ptr<const SiteModel> model, ModelFor(task, table, cache, build));
  RETURN_IF_ERROR(CheckSurvival(model->formula, task.value("subset", ""), table, policy));
  RETURN_IF_ERROR(CheckTerms(model->formula, policy));
  ASSIGN_OR_RETURN(std::string aggregate, step(task, model.get(), policy));
  return LocalRelease{std::move(aggregate), model->populations, model->counts};
}

Result<LocalRelease> RunParsedLocalStep(const json& task, const data::Table& table,
                                        const privacy::Policy& policy, LocalStepCache* cache) {
  try {
    const std::string analysis = task.value("analysis", "");
    if (!privacy::AllowsAnalysis(policy, analysis)) {
      return PermissionDenied("rule allowed_analyses: site " + policy.site + " does not run '" +
                              analysis + "'");
    }
    const AnalysisKind* kind = FindAnalysisKind(analysis);
    if (!kind) return InvalidArgument("task: unknown analysis '" + analysis + "'");
    return kind->site_step(task, table, policy, cache);
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("task: malformed JSON: ") + e.what());
  }
}

Result<LocalRelease> RunLocalStep(const std::string& task_json, const data::Table& table,
                                  const privacy::Policy& policy, LocalStepCache* cache) {
  json task;
  try {
    task = json::parse(task_json);
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("task: malformed JSON: ") + e.what());
  }
  return RunParsedLocalStep(task, table, policy, cache);
}

Status CheckSizes(size_t vector, size_t matrix, size_t p) {
  if (vector != p || matrix != p * p) {
    return Unavailable("site answered aggregates of the wrong size");
  }
  return Status::Ok();
}

}  // namespace passerelle::analysis
