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
#include "passerelle/analysis/run.h"
#include "passerelle/analysis/site_answer.h"
#include "passerelle/formula/eval.h"
#include "passerelle/formula/model.h"
#include "passerelle/privacy/disclosure.h"

namespace passerelle::analysis {
// Labels that leave the site with a release: the levels of a table's variables, of a model's
// factors (in coefficient names), of survival curves' groups. A dictionary's declared levels
// and TRUE/FALSE are public. Any other label (the values of a number, of an open category) says
// what some records hold, so each must be held by none or at least k records of the dataset.
// Identifiers, free text and dates label nothing (a condition on a date is a TRUE/FALSE).
struct Labels {
  std::string expression;
  std::string never_released;  // the date, identifier or text variable it would label by
  bool date = false;
  double fewest = 0;  // fewest records of the dataset holding an undeclared label (0: none)
};

namespace {

using nlohmann::json;

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
  ASSIGN_OR_RETURN(formula::Vector v, formula::Evaluate(e, table, "variable"));
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
  const formula::Vector f = formula::AsFactor(v);
  std::vector<double> held(f.levels.size(), 0);
  for (size_t i = 0; i < table.rows; ++i) {
    const int32_t code = f.codes[f.codes.size() == 1 ? 0 : i];
    if (code >= 0) held[code] += 1;
  }
  for (size_t l = 0; l < f.levels.size(); ++l) {
    const bool public_label =
        std::find(declared.begin(), declared.end(), f.levels[l]) != declared.end();
    if (!public_label && held[l] > 0 && (labels.fewest == 0 || held[l] < labels.fewest)) {
      labels.fewest = held[l];
    }
  }
  return labels;
}

Status CheckLabels(const Labels& labels, const privacy::Policy& policy) {
  if (!labels.never_released.empty()) {
    return PermissionDenied("rule never_released: '" + labels.never_released + "' is " +
                            (labels.date ? "a date" : "an identifier or free text") +
                            "; its values never leave site " + policy.site +
                            " (a condition on it may, e.g. " + labels.never_released + " < ...)");
  }
  if (labels.fewest > 0 && labels.fewest < policy.min_cell_count) {
    return PermissionDenied("rule min_cell_count: some values of '" + labels.expression +
                            "' are held by fewer than " + std::to_string(policy.min_cell_count) +
                            " records at site " + policy.site +
                            " and would leave as labels; group them with a condition");
  }
  return Status::Ok();
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
      const double v = column->numbers[r];
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

json GlmAggregateJson(const stats::GlmAggregate& a) {
  return {{"n", a.n},           {"xtwx", a.xtwx},
          {"xtwz", a.xtwz},     {"deviance", a.deviance},
          {"loglik", a.loglik}, {"extreme_fits", a.extreme_fits}};
}

}  // namespace

// A site's model for the tasks of one fit: its frame's figures and its kernel, built at the
// first task and reused by the rounds that follow (the cache's key is the task without its
// step and coefficients).
struct SiteModel {
  double n = 0, p = 0, events = 0, omitted = 0;
  std::vector<std::string> coef_names;
  bool intercept = false;
  std::vector<double> sums;        // column sums of the design (coxph releases them)
  std::vector<uint8_t> indicator;  // the column is 0/1
  std::map<std::string, std::vector<std::string>> all_levels, used_levels;  // factors
  privacy::Cohort cohort;                                                   // the frame's rows
  std::vector<privacy::Cohort> populations;  // the frame's rows, and each carrier's non-zero rows
  std::vector<privacy::Cohort> counts;       // the events' rows; the ones of 0/1 columns and pairs
  double fewest_in_column = 0;  // fewest records with a 1 (or a 0) in a 0/1 column, or non-zero
                                // in another column; 0: none
  std::vector<Labels> labels;   // of the factors
  std::unique_ptr<stats::CoxKernel> cox;
  std::unique_ptr<stats::GlmKernel> glm;
  formula::Formula formula;
};

struct LocalStepCache::Impl {
  static constexpr size_t kMaxModels = 16;
  std::map<std::string, std::shared_ptr<const SiteModel>> models;
};

LocalStepCache::LocalStepCache() : impl_(std::make_unique<Impl>()) {}
LocalStepCache::~LocalStepCache() = default;
void LocalStepCache::Clear() { impl_->models.clear(); }

namespace {

// What the site's rules read of a frame, and what every step releases about it.
// `cross_products`: the steps release X'WX (a GLM's), whose entries are sums over the records
// where two columns are both non-zero.
Status DescribeFrame(const formula::ModelFrame& m, const data::Table& table, bool cross_products,
                     SiteModel* model) {
  for (size_t j = 0; j < m.p(); ++j) {
    double sum = 0;
    bool indicator = true;
    for (size_t i = 0; i < m.n; ++i) {
      sum += m.X(i, j);
      indicator &= m.X(i, j) == 0 || m.X(i, j) == 1;
    }
    model->sums.push_back(sum);
    model->indicator.push_back(indicator);
    const double n = static_cast<double>(m.n);
    double nonzero = 0;
    for (size_t i = 0; i < m.n; ++i) nonzero += m.X(i, j) != 0;
    // A 0/1 column's ones and zeros; any other column's non-zero records (x:I(cond) is zero
    // but for the records the condition holds).
    const std::vector<double> groups =
        indicator ? std::vector<double>{sum, n - sum} : std::vector<double>{nonzero};
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
  for (size_t a = 0; cross_products && a < m.p(); ++a) {
    for (size_t b = a + 1; b < m.p(); ++b) {
      double together = 0;
      for (size_t i = 0; i < m.n; ++i) together += m.X(i, a) != 0 && m.X(i, b) != 0;
      if (together > 0 && (model->fewest_in_column == 0 || together < model->fewest_in_column)) {
        model->fewest_in_column = together;
      }
      if (model->indicator[a] && model->indicator[b]) indicator_pairs.emplace_back(a, b);
    }
  }
  model->n = static_cast<double>(m.n);
  model->p = static_cast<double>(m.p());
  model->omitted = static_cast<double>(m.n_omitted_na);
  model->coef_names = m.coef_names;
  model->intercept = m.intercept;
  model->all_levels = m.all_levels;
  model->used_levels = m.used_levels;
  for (const auto& factor : m.all_levels) {
    ASSIGN_OR_RETURN(Labels labels, LabelsOf(factor.first, table));
    model->labels.push_back(std::move(labels));
  }
  model->cohort = privacy::Cohort::FromRows(m.rows, table.rows);
  // Counts that follow from what every step releases: the ones of each 0/1 column (a sum coxph
  // releases, a diagonal of X'WX) and of each pair of them (X'WX), and the records with the
  // larger of a two-valued response (the events of a model, or the count an intercept-only
  // model of a 0/1 outcome gives).
  auto rows_where = [&](auto&& keep) {
    std::vector<size_t> rows;
    for (size_t i = 0; i < m.n; ++i) {
      if (keep(i)) rows.push_back(m.rows[i]);
    }
    return privacy::Cohort::FromRows(rows, table.rows);
  };
  for (size_t j = 0; j < m.p(); ++j) {
    if (model->indicator[j])
      model->counts.push_back(rows_where([&](size_t i) { return m.X(i, j) == 1; }));
  }
  for (const std::pair<size_t, size_t>& pair : indicator_pairs) {
    const size_t a = pair.first, b = pair.second;  // (a lambda cannot capture a binding)
    model->counts.push_back(rows_where([&](size_t i) { return m.X(i, a) == 1 && m.X(i, b) == 1; }));
  }
  // A value crossed with a condition (os_days:I(cond)) is zero but where the condition holds and
  // sums over those records in every step (Cox means, X'WX): they are a population of their own,
  // so two models whose carriers differ by one patient are refused as differencing. (A plain
  // covariate's zeros add nothing: its sum over the model's rows is the same.)
  model->populations = {model->cohort};
  for (size_t j = 0; j < m.p(); ++j) {
    if (model->indicator[j] || m.coef_names[j].find(':') == std::string::npos) continue;
    privacy::Cohort support = rows_where([&](size_t i) { return m.X(i, j) != 0; });
    if (support.size > 0 && support.size < m.n) model->populations.push_back(std::move(support));
  }
  // A response of two or three values is counts in disguise (its sum and sum of squares with n
  // solve for them): each value's records are a count.
  const std::vector<double>& response = m.status.empty() ? m.y : m.status;
  const std::set<double> values(response.begin(), response.end());
  if (values.size() >= 2 && values.size() <= 3) {
    for (const double value : values) {
      model->counts.push_back(rows_where([&](size_t i) { return response[i] == value; }));
    }
  }
  return Status::Ok();
}

Result<std::shared_ptr<const SiteModel>> BuildModel(const json& task, const data::Table& table) {
  auto model = std::make_shared<SiteModel>();
  ASSIGN_OR_RETURN(formula::Formula f, formula::ParseFormula(task.value("formula", "")));
  model->formula = f;
  // The factor levels every site uses (the hub's merge of the sites' "levels" answers), so all
  // sites build the same design; without them (step "levels") the site's own.
  formula::FrameOptions options;
  if (task.contains("levels")) {
    options.levels = task.at("levels").get<std::map<std::string, std::vector<std::string>>>();
  }
  if (task.value("analysis", "") == "coxph") {
    ASSIGN_OR_RETURN(formula::ModelFrame m,
                     formula::BuildModelFrame(f, table, formula::ModelKind::kCox,
                                              task.value("subset", ""), options));
    for (double s : m.status) model->events += s;
    RETURN_IF_ERROR(DescribeFrame(m, table, /*cross_products=*/false, model.get()));
    model->cox = std::make_unique<stats::CoxKernel>(CoxRowsFrom(std::move(m)));
    return std::shared_ptr<const SiteModel>(std::move(model));
  }
  ASSIGN_OR_RETURN(formula::ModelFrame m,
                   formula::BuildModelFrame(f, table, formula::ModelKind::kRegression,
                                            task.value("subset", ""), options));
  ASSIGN_OR_RETURN(stats::Family family, ParseFamily(task.value("family", "")));
  for (double y : m.y) model->events += y;
  // Both outcomes of a two-valued response count, whatever the family: a model of a rare
  // outcome would single its patients out, and an intercept-only Poisson or Gaussian model of a
  // 0/1 variable gives its count.
  std::map<double, double> outcomes;
  for (double y : m.y) outcomes[y] += 1;
  if (family == stats::Family::kBinomial) {
    model->events = std::min(model->events, static_cast<double>(m.n) - model->events);
  } else if (outcomes.size() >= 2 && outcomes.size() <= 3) {
    // Two or three values: n, the sum and the sum of squares (the deviance) solve for their
    // counts, so the rarest must be held by at least min_events records.
    model->events = static_cast<double>(m.n);
    for (const auto& [value, count] : outcomes) model->events = std::min(model->events, count);
  } else {
    model->events = static_cast<double>(m.n);
  }
  RETURN_IF_ERROR(DescribeFrame(m, table, /*cross_products=*/true, model.get()));
  model->glm = std::make_unique<stats::GlmKernel>(
      task.value("null", false) ? NullGlmRowsFrom(m) : GlmRowsFrom(m), family);
  RETURN_IF_ERROR(model->glm->Validate());
  return std::shared_ptr<const SiteModel>(std::move(model));
}

// The site's rules on a model, whatever the hub asks: cohort and model size, events, no level or
// 0/1 variable held by 1 to k-1 records (its coefficient would describe them), public labels.
Status CheckModel(const SiteModel& model, const privacy::Policy& policy) {
  RETURN_IF_ERROR(privacy::CheckCohortSize(model.n, policy));
  RETURN_IF_ERROR(privacy::CheckModelSize(model.p, model.n, model.events, policy));
  if (model.fewest_in_column > 0 && model.fewest_in_column < policy.min_cell_count) {
    return PermissionDenied(
        "rule min_cell_count: a level, a 0/1 variable, a term or a pair of terms of the model "
        "is held (or is non-zero) for fewer than " +
        std::to_string(policy.min_cell_count) + " records at site " + policy.site +
        " (or all but fewer than that)");
  }
  for (const Labels& labels : model.labels) RETURN_IF_ERROR(CheckLabels(labels, policy));
  return Status::Ok();
}

Result<std::shared_ptr<const SiteModel>> ModelFor(const json& task, const data::Table& table,
                                                  LocalStepCache* cache) {
  if (!cache) return BuildModel(task, table);
  json key = task;
  key.erase("step");
  key.erase("beta");
  auto& models = cache->impl_->models;
  const auto found = models.find(key.dump());
  if (found != models.end()) return found->second;
  ASSIGN_OR_RETURN(std::shared_ptr<const SiteModel> model, BuildModel(task, table));
  if (models.size() >= LocalStepCache::Impl::kMaxModels) models.clear();
  models.emplace(key.dump(), model);
  return std::shared_ptr<const SiteModel>(std::move(model));
}

std::string LevelsAnswer(const SiteModel& model) {
  return json{{"levels", model.all_levels}, {"used_levels", model.used_levels}}.dump();
}

Result<std::string> CoxStep(const json& task, const SiteModel* model,
                            const privacy::Policy& policy) {
  // The site's rules apply to its own contribution, whatever the hub asks.
  RETURN_IF_ERROR(CheckModel(*model, policy));
  ASSIGN_OR_RETURN(stats::Ties ties, ParseTies(task.value("ties", "efron")));
  const std::string step = task.value("step", "");
  if (step == "levels") return LevelsAnswer(*model);
  if (step == "describe") {
    // Column sums give R's means; the sum of an indicator column counts patients, so it is
    // withheld (null) when it is 1 to k-1.
    json sums = json::array();
    for (size_t j = 0; j < model->sums.size(); ++j) {
      sums.push_back(model->indicator[j] ? ReleasableCount(model->sums[j], policy)
                                         : json(model->sums[j]));
    }
    return json{{"n", model->n},
                {"events", model->events},
                {"coef_names", model->coef_names},
                {"sums", sums},
                {"omitted", ReleasableCount(model->omitted, policy)}}
        .dump();
  }
  const stats::CoxKernel& kernel = *model->cox;
  std::vector<double> beta = task.value("beta", std::vector<double>());
  if (beta.size() != model->coef_names.size()) {
    return InvalidArgument("task: beta has the wrong length");
  }
  if (step == "evaluate") {
    ASSIGN_OR_RETURN(stats::CoxAggregate a, kernel.Evaluate(beta, ties));
    return json{{"loglik", a.loglik}, {"score", a.score}, {"information", a.information}}.dump();
  }
  if (step == "meat") return json{{"meat", kernel.ClusterMeat(beta, ties)}}.dump();
  if (step == "concordance") {
    const stats::ConcordanceAggregate c = kernel.Concordance(beta);
    return json{{"concordant", c.concordant},
                {"discordant", c.discordant},
                {"tied_risk", c.tied_risk},
                {"c2", c.c2},
                {"cm", c.cm},
                {"m2", c.m2}}
        .dump();
  }
  return InvalidArgument("task: unknown step '" + step + "'");
}

Result<std::string> GlmStep(const json& task, const SiteModel* model,
                            const privacy::Policy& policy) {
  RETURN_IF_ERROR(CheckModel(*model, policy));
  const stats::GlmKernel& kernel = *model->glm;
  const std::string step = task.value("step", "");
  if (step == "levels") return LevelsAnswer(*model);
  if (step == "describe") {
    return json{{"n", model->n},
                {"coef_names", model->coef_names},
                {"intercept", model->intercept},
                {"omitted", ReleasableCount(model->omitted, policy)}}
        .dump();
  }
  if (step == "start") return GlmAggregateJson(kernel.EvaluateAtStart()).dump();
  if (step == "evaluate") {
    const std::vector<double> beta = task.value("beta", std::vector<double>());
    const size_t p = task.value("null", false) ? (model->intercept ? 1 : 0) : model->p;
    if (beta.size() != p) return InvalidArgument("task: beta has the wrong length");
    return GlmAggregateJson(kernel.Evaluate(beta)).dump();
  }
  return InvalidArgument("task: unknown step '" + step + "'");
}

// The rows of a kGroups frame in stratum `s` (all rows without strata).
struct StratumRows {
  std::vector<double> time, status;
  std::vector<int32_t> group;
  std::vector<size_t> rows;  // rows of the table
};

StratumRows RowsOfStratum(const formula::ModelFrame& m, size_t s) {
  StratumRows r;
  for (size_t i = 0; i < m.n; ++i) {
    if (!m.strata.empty() && m.strata[i] != static_cast<int32_t>(s)) continue;
    r.time.push_back(m.time[i]);
    r.status.push_back(m.status[i]);
    r.group.push_back(m.group[i]);
    r.rows.push_back(m.rows[i]);
  }
  return r;
}

// The records of group `g` of a stratum, as a cohort of the table: all of them, or (`events`)
// those with an event (`cause` 0: any; competing events: that cause).
privacy::Cohort GroupCohort(const StratumRows& r, size_t g, size_t table_rows, bool events = false,
                            double cause = 0) {
  std::vector<size_t> members;
  for (size_t i = 0; i < r.rows.size(); ++i) {
    if (r.group[i] != static_cast<int32_t>(g)) continue;
    if (events && (r.status[i] == 0 || (cause != 0 && r.status[i] != cause))) continue;
    members.push_back(r.rows[i]);
  }
  return privacy::Cohort::FromRows(members, table_rows);
}

// A released group's events, and each cause's, are counts (its curve states their totals): two
// curves over the same records whose events differ by a few patients would count them.
void AddEventCounts(const StratumRows& r, size_t g, size_t causes, size_t table_rows,
                    LocalRelease* release) {
  release->counts.push_back(GroupCohort(r, g, table_rows, true));
  for (size_t c = 1; causes > 1 && c <= causes; ++c) {
    release->counts.push_back(GroupCohort(r, g, table_rows, true, static_cast<double>(c)));
  }
}

Result<formula::ModelFrame> GroupsFrame(const json& task, const data::Table& table,
                                        const privacy::Policy& policy) {
  ASSIGN_OR_RETURN(formula::Formula f, formula::ParseFormula(task.value("formula", "")));
  RETURN_IF_ERROR(CheckSurvival(f, task.value("subset", ""), table, policy));
  RETURN_IF_ERROR(CheckTerms(f, policy));
  ASSIGN_OR_RETURN(
      formula::ModelFrame m,
      formula::BuildModelFrame(f, table, formula::ModelKind::kGroups, task.value("subset", "")));
  if (!m.start.empty()) return InvalidArgument("task: survival curves take (time, event) data");
  if (!m.event_levels.empty() && task.value("analysis", "") != "survfit") {
    return InvalidArgument("survdiff compares one kind of event: give it as 0/1 or a condition");
  }
  RETURN_IF_ERROR(privacy::CheckCohortSize(static_cast<double>(m.n), policy));
  // Groups and strata leave as labels ("organ=kidney"), and competing events' causes.
  std::vector<formula::Expr> labelled = f.strata;
  if (!m.event_levels.empty()) labelled.push_back(f.surv.back());
  for (const formula::Term& term : f.terms) {
    labelled.insert(labelled.end(), term.variables.begin(), term.variables.end());
  }
  for (const formula::Expr& e : labelled) {
    ASSIGN_OR_RETURN(Labels labels, LabelsOf(formula::Deparse(e), table));
    RETURN_IF_ERROR(CheckLabels(labels, policy));
  }
  return m;
}

// survfit, and survdiff without site strata: Kaplan-Meier counts per group and stratum on the
// time grid, each truncated where fewer than k patients would remain (ReleasableRows). A group
// of fewer than k patients, or with 1 to k-1 events, is withheld whole. Competing events
// (survfit with a factor event): the events of each cause too, and the event's levels; a group
// with 1 to k-1 events of a cause is withheld whole.
Result<LocalRelease> RunCountsStep(const json& task, const data::Table& table,
                                   const privacy::Policy& policy) {
  ASSIGN_OR_RETURN(formula::ModelFrame m, GroupsFrame(task, table, policy));
  const double bin = task.value("bin_days", 0.0);
  if (!(bin >= policy.min_time_bin_days)) {
    return PermissionDenied("rule min_time_bin_days: site " + policy.site +
                            " releases survival times on a grid of at least " +
                            std::to_string(policy.min_time_bin_days) + " days");
  }
  for (double& t : m.time) t = privacy::BinTime(t, bin);
  const size_t strata = m.strata_labels.empty() ? 1 : m.strata_labels.size();
  const size_t causes = m.event_levels.empty() ? 0 : m.event_levels.size() - 1;
  json cells = json::array();
  LocalRelease release;
  for (size_t s = 0; s < strata; ++s) {
    const StratumRows r = RowsOfStratum(m, s);
    for (size_t g = 0; g < m.group_labels.size(); ++g) {
      const stats::TimeCounts c = stats::CountByTime(r.time, r.status, r.group, g, causes);
      if (c.n == 0) continue;
      json cell = {{"group", m.group_labels[g]},
                   {"stratum", m.strata_labels.empty() ? "" : m.strata_labels[s]}};
      double events = 0;
      std::vector<double> leaving(c.time.size());
      for (size_t j = 0; j < c.time.size(); ++j) {
        events += c.n_event[j];
        leaving[j] = c.n_event[j] + c.n_censor[j];
      }
      bool small_cause = false;
      for (const std::vector<double>& d : c.n_cause) {
        const double total = std::accumulate(d.begin(), d.end(), 0.0);
        small_cause |= total > 0 && total < policy.min_cell_count;
      }
      if (c.n < policy.min_cell_count || (events > 0 && events < policy.min_cell_count) ||
          small_cause) {
        cell["withheld"] = "min_cell_count";
        cells.push_back(std::move(cell));
        continue;
      }
      const size_t rows = privacy::ReleasableRows(c.n, leaving, policy);
      auto head = [rows](const std::vector<double>& v) {
        return std::vector<double>(v.begin(), v.begin() + static_cast<ptrdiff_t>(rows));
      };
      cell["n"] = c.n;
      cell["time"] = head(c.time);
      cell["n_event"] = head(c.n_event);
      cell["n_censor"] = head(c.n_censor);
      if (causes > 0) {
        json by_cause = json::array();
        for (const std::vector<double>& d : c.n_cause) by_cause.push_back(head(d));
        cell["n_cause"] = std::move(by_cause);
      }
      cell["truncated"] = rows < c.time.size();
      cells.push_back(std::move(cell));
      release.cohorts.push_back(GroupCohort(r, g, table.rows));
      AddEventCounts(r, g, causes, table.rows, &release);
    }
  }
  json aggregate = {{"cells", cells},
                    {"omitted", ReleasableCount(static_cast<double>(m.n_omitted_na), policy)}};
  if (!m.event_levels.empty()) aggregate["event_levels"] = m.event_levels;
  release.aggregate = aggregate.dump();
  return release;
}

// survdiff with site strata: each stratum's observed, expected and variance on the real times.
// Refused when a group of a stratum has 1 to k-1 patients or events.
Result<LocalRelease> RunLogrankStep(const json& task, const data::Table& table,
                                    const privacy::Policy& policy) {
  ASSIGN_OR_RETURN(formula::ModelFrame m, GroupsFrame(task, table, policy));
  const size_t strata = m.strata_labels.empty() ? 1 : m.strata_labels.size();
  const size_t k = m.group_labels.size();
  json out = json::array();
  LocalRelease release;
  release.cohorts.push_back(privacy::Cohort::FromRows(m.rows, table.rows));
  for (size_t s = 0; s < strata; ++s) {
    const StratumRows r = RowsOfStratum(m, s);
    for (size_t g = 0; g < k; ++g) {
      privacy::Cohort group = GroupCohort(r, g, table.rows);
      if (group.size == 0) continue;
      release.cohorts.push_back(std::move(group));
      AddEventCounts(r, g, 0, table.rows, &release);
    }
    const stats::LogrankAggregate a =
        stats::LogrankStratum(r.time, r.status, r.group, k, task.value("rho", 0.0));
    for (size_t g = 0; g < k; ++g) {
      for (double count : {a.n[g], a.obs[g]}) {
        if (count > 0 && count < policy.min_cell_count) {
          return PermissionDenied(
              "rule min_cell_count: site " + policy.site + " has a group with fewer than " +
              std::to_string(policy.min_cell_count) + " patients or events in a stratum");
        }
      }
    }
    out.push_back({{"stratum", m.strata_labels.empty() ? "" : m.strata_labels[s]},
                   {"n", a.n},
                   {"obs", a.obs},
                   {"exp", a.exp},
                   {"var", a.var}});
  }
  release.aggregate =
      json{{"groups", m.group_labels},
           {"strata", out},
           {"omitted", ReleasableCount(static_cast<double>(m.n_omitted_na), policy)}}
          .dump();
  return release;
}

// table: the site's counts with their missing count, small cells and their complements
// suppressed (privacy::SuppressTable).
Result<LocalRelease> RunTableStep(const json& task, const data::Table& table,
                                  const privacy::Policy& policy) {
  AnalysisRequest request;
  request.function = "table";
  request.rows = task.value("rows", "");
  request.cols = task.value("cols", "");
  request.subset = task.value("subset", "");
  ASSIGN_OR_RETURN(AnalysisOutput out, RunAnalysis(request, table));
  TableOutput& t = std::get<TableOutput>(out.result);
  for (const std::string& variable : {request.rows, request.cols}) {
    if (variable.empty()) continue;
    ASSIGN_OR_RETURN(Labels labels, LabelsOf(variable, table));
    RETURN_IF_ERROR(CheckLabels(labels, policy));
  }
  ASSIGN_OR_RETURN(std::vector<size_t> cohort, SubsetRows(request.subset, table));
  RETURN_IF_ERROR(privacy::CheckCohortSize(static_cast<double>(cohort.size()), policy));
  double missing = static_cast<double>(t.n_missing);
  privacy::SuppressTable(t.counts, std::max<size_t>(1, t.col_levels.size()), &missing, policy);
  LocalRelease release;
  release.aggregate = json{{"row_levels", t.row_levels},
                           {"col_levels", t.col_levels},
                           {"counts", CountsJson(t.counts)},
                           {"missing", CountJson(missing)}}
                          .dump();
  release.cohorts.push_back(privacy::Cohort::FromRows(cohort, table.rows));
  if (missing == missing && missing > 0) {
    release.cohorts.push_back(privacy::Cohort::FromRows(t.counted, table.rows));
  }
  for (size_t c = 0; c < t.counts.size(); ++c) {
    if (t.counts[c] == t.counts[c] && t.counts[c] > 0) {
      release.counts.push_back(privacy::Cohort::FromRows(t.cell_rows[c], table.rows));
    }
  }
  return release;
}

// describe: over the subset's rows, per variable the count present and missing, mean and SD of
// numbers (groups of at least k), level counts of categories; dates, identifiers and free text are
// only counted. Never minima, maxima or quantiles: those are patients' values.
Result<LocalRelease> RunDescribeStep(const json& task, const data::Table& table,
                                     const privacy::Policy& policy) {
  ASSIGN_OR_RETURN(std::vector<size_t> cohort, SubsetRows(task.value("subset", ""), table));
  RETURN_IF_ERROR(privacy::CheckCohortSize(static_cast<double>(cohort.size()), policy));
  const auto wanted = task.value("variables", std::vector<std::string>());
  std::vector<VariableDescription> all = Describe(table, cohort);
  std::vector<VariableDescription> chosen;
  for (const std::string& name : wanted) {
    auto it = std::find_if(all.begin(), all.end(), [&](const auto& d) { return d.name == name; });
    if (it == all.end()) return InvalidArgument("describe: no variable '" + name + "'");
    chosen.push_back(*it);
  }
  json variables = json::array();
  LocalRelease release;
  release.cohorts.push_back(privacy::Cohort::FromRows(cohort, table.rows));
  for (const VariableDescription& d : wanted.empty() ? all : chosen) {
    // Each statistic is over its own records (the non-missing ones): they are its population
    // for the ledger, so padding a subset with records that lack the variable cannot isolate one.
    const data::Column& column = *table.Find(d.name);
    std::vector<size_t> present;
    std::map<double, std::vector<size_t>> by_value;  // numbers: the rows of each value (<= 3)
    std::vector<std::vector<size_t>> by_level(column.levels.size());
    for (size_t r : cohort) {
      if (column.IsMissing(r)) continue;
      present.push_back(r);
      if (d.type == data::VarType::kCategory) {
        by_level[static_cast<size_t>(column.codes[r])].push_back(r);
      } else if (column.is_numeric() && by_value.size() <= 3) {
        by_value[column.numbers[r]].push_back(r);
      }
    }
    // n + missing = rows, and a category's counts + missing = rows: each is suppressed as a
    // table with its total known, so neither count rebuilds the other.
    double n = static_cast<double>(d.n), missing = static_cast<double>(d.missing);
    std::vector<double> counts;
    for (const auto& level : d.levels) counts.push_back(static_cast<double>(level.second));
    if (d.type == data::VarType::kCategory) {
      privacy::SuppressTable(counts, 1, &missing, policy);
      if (missing != missing) n = missing;
    } else {
      privacy::SuppressTable(std::span<double>(&n, 1), 1, &missing, policy);
    }
    json v = {{"name", d.name},
              {"type", std::string(data::VarTypeName(d.type))},
              {"n", CountJson(n)},
              {"missing", CountJson(missing)}};
    if (n == n && n > 0) release.cohorts.push_back(privacy::Cohort::FromRows(present, table.rows));
    const bool numeric = d.type == data::VarType::kInteger || d.type == data::VarType::kNumber;
    if (numeric) {
      // A number with two or three values is counts in disguise: n, its mean and its SD solve
      // for them. Each value must be held by none or at least k records.
      bool enough = d.n >= static_cast<size_t>(policy.min_cell_count);
      if (by_value.size() >= 2 && by_value.size() <= 3) {
        for (const auto& [value, rows] : by_value) {
          enough &= rows.size() >= static_cast<size_t>(policy.min_cell_count);
        }
        for (const auto& [value, rows] : by_value) {
          if (enough) release.counts.push_back(privacy::Cohort::FromRows(rows, table.rows));
        }
      }
      v["mean"] = enough ? json(d.mean) : json(nullptr);
      v["sd"] = enough ? json(d.sd) : json(nullptr);
    }
    if (d.type == data::VarType::kCategory) {
      std::vector<std::string> levels;
      for (const auto& level : d.levels) levels.push_back(level.first);
      v["levels"] = levels;
      v["counts"] = CountsJson(counts);
      for (size_t l = 0; l < counts.size() && l < by_level.size(); ++l) {
        if (counts[l] == counts[l] && counts[l] > 0) {
          release.counts.push_back(privacy::Cohort::FromRows(by_level[l], table.rows));
        }
      }
    }
    variables.push_back(std::move(v));
  }
  release.aggregate = json{{"rows", cohort.size()}, {"variables", variables}}.dump();
  return release;
}
}  // namespace

Result<double> FewestUndeclaredLabel(const std::string& expression, const data::Table& table) {
  ASSIGN_OR_RETURN(Labels labels, LabelsOf(expression, table));
  return labels.never_released.empty() ? labels.fewest : 0.0;
}

Result<LocalRelease> RunLocalStep(const std::string& task_json, const data::Table& table,
                                  const privacy::Policy& policy, LocalStepCache* cache) {
  json task;
  try {
    task = json::parse(task_json);
    const std::string analysis = task.value("analysis", "");
    if (std::find(policy.allowed_analyses.begin(), policy.allowed_analyses.end(), analysis) ==
        policy.allowed_analyses.end()) {
      return PermissionDenied("rule allowed_analyses: site " + policy.site + " does not run '" +
                              analysis + "'");
    }
    if (analysis == "coxph" || analysis == "glm") {
      ASSIGN_OR_RETURN(std::shared_ptr<const SiteModel> model, ModelFor(task, table, cache));
      RETURN_IF_ERROR(CheckSurvival(model->formula, task.value("subset", ""), table, policy));
      RETURN_IF_ERROR(CheckTerms(model->formula, policy));
      ASSIGN_OR_RETURN(std::string aggregate, analysis == "coxph"
                                                  ? CoxStep(task, model.get(), policy)
                                                  : GlmStep(task, model.get(), policy));
      return LocalRelease{std::move(aggregate), model->populations, model->counts};
    }
    const std::string step = task.value("step", "");
    if ((analysis == "survfit" || analysis == "survdiff") && step == "counts") {
      return RunCountsStep(task, table, policy);
    }
    if (analysis == "survdiff" && step == "logrank") return RunLogrankStep(task, table, policy);
    if (analysis == "table") return RunTableStep(task, table, policy);
    if (analysis == "describe") return RunDescribeStep(task, table, policy);
    return InvalidArgument("task: analysis '" + analysis + "' has no step '" + step + "'");
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("task: malformed JSON: ") + e.what());
  }
}

namespace {

// Reads a site's answer with `read`. A malformed answer is that site's failure, never a number.
template <typename T, typename Read>
Result<T> Decode(const Result<std::string>& answer, Read read) {
  if (!answer.ok()) return answer.status();
  try {
    return read(json::parse(*answer));
  } catch (const json::exception& e) {
    return Unavailable(std::string("site answered garbage: ") + e.what());
  } catch (const MalformedAnswer& e) {
    return Unavailable(std::string("site answered garbage: ") + e.what());
  }
}

Status CheckSizes(size_t vector, size_t matrix, size_t p) {
  if (vector != p || matrix != p * p) {
    return Unavailable("site answered aggregates of the wrong size");
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<RemoteCoxSite>> RemoteCoxSite::Connect(Transport transport,
                                                              const std::string& formula,
                                                              const std::string& subset,
                                                              const std::string& ties,
                                                              const std::string& levels) {
  std::unique_ptr<RemoteCoxSite> site(new RemoteCoxSite());
  site->transport_ = std::move(transport);
  site->formula_ = formula;
  site->subset_ = subset;
  site->ties_ = ties;
  site->levels_ = levels;
  RETURN_IF_ERROR(Decode<bool>(site->Ask("describe", {}), [&](const json& j) {
                    site->n_ = SiteCount(j.at("n"));
                    site->events_ = SiteCount(j.at("events"));
                    site->coef_names_ = j.at("coef_names").get<std::vector<std::string>>();
                    site->sums_.clear();
                    for (const json& sum : j.at("sums")) {
                      site->sums_.push_back(sum.is_null() ? std::numeric_limits<double>::quiet_NaN()
                                                          : sum.get<double>());
                    }
                    site->omitted_ = j.contains("omitted") ? SiteCountOrNaN(j.at("omitted")) : 0;
                    return true;
                  }).status());
  if (site->sums_.size() != site->coef_names_.size()) {
    return Unavailable("site answered aggregates of the wrong size");
  }
  return site;
}

Result<std::string> RemoteCoxSite::Ask(const std::string& step, std::span<const double> beta) {
  json task = {{"analysis", "coxph"}, {"step", step},
               {"formula", formula_}, {"subset", subset_},
               {"ties", ties_},       {"beta", std::vector<double>(beta.begin(), beta.end())}};
  if (!levels_.empty()) task["levels"] = json::parse(levels_);
  return transport_(task.dump());
}

Result<stats::CoxAggregate> RemoteCoxSite::Evaluate(std::span<const double> beta, stats::Ties) {
  return Decode<stats::CoxAggregate>(
      Ask("evaluate", beta), [&](const json& j) -> Result<stats::CoxAggregate> {
        stats::CoxAggregate a;
        a.loglik = j.at("loglik").get<double>();
        a.score = j.at("score").get<std::vector<double>>();
        a.information = j.at("information").get<std::vector<double>>();
        RETURN_IF_ERROR(CheckSizes(a.score.size(), a.information.size(), beta.size()));
        return a;
      });
}

Result<std::vector<double>> RemoteCoxSite::ClusterMeat(std::span<const double> beta, stats::Ties) {
  return Decode<std::vector<double>>(
      Ask("meat", beta), [&](const json& j) -> Result<std::vector<double>> {
        std::vector<double> meat = j.at("meat").get<std::vector<double>>();
        RETURN_IF_ERROR(CheckSizes(beta.size(), meat.size(), beta.size()));
        return meat;
      });
}

Result<stats::ConcordanceAggregate> RemoteCoxSite::Concordance(std::span<const double> beta) {
  return Decode<stats::ConcordanceAggregate>(Ask("concordance", beta), [](const json& j) {
    stats::ConcordanceAggregate c;
    c.concordant = j.at("concordant").get<double>();
    c.discordant = j.at("discordant").get<double>();
    c.tied_risk = j.at("tied_risk").get<double>();
    c.c2 = j.at("c2").get<double>();
    c.cm = j.at("cm").get<double>();
    c.m2 = j.at("m2").get<double>();
    return c;
  });
}

Result<std::unique_ptr<RemoteGlmSite>> RemoteGlmSite::Connect(
    Transport transport, const std::string& formula, const std::string& subset,
    const std::string& family, bool null_model, const std::string& levels) {
  std::unique_ptr<RemoteGlmSite> site(new RemoteGlmSite());
  site->transport_ = std::move(transport);
  site->formula_ = formula;
  site->subset_ = subset;
  site->family_ = family;
  site->null_model_ = null_model;
  site->levels_ = levels;
  RETURN_IF_ERROR(Decode<bool>(site->Send("describe", {}), [&](const json& j) {
                    site->n_ = SiteCount(j.at("n"));
                    site->coef_names_ = j.at("coef_names").get<std::vector<std::string>>();
                    site->intercept_ = j.at("intercept").get<bool>();
                    site->omitted_ = j.contains("omitted") ? SiteCountOrNaN(j.at("omitted")) : 0;
                    return true;
                  }).status());
  site->p_ = null_model ? (site->intercept_ ? 1 : 0) : site->coef_names_.size();
  return site;
}

Result<std::string> RemoteGlmSite::Send(const std::string& step, std::span<const double> beta) {
  json task = {{"analysis", "glm"},
               {"step", step},
               {"formula", formula_},
               {"subset", subset_},
               {"family", family_},
               {"null", null_model_},
               {"beta", std::vector<double>(beta.begin(), beta.end())}};
  if (!levels_.empty()) task["levels"] = json::parse(levels_);
  return transport_(task.dump());
}

Result<stats::GlmAggregate> RemoteGlmSite::Ask(const std::string& step,
                                               std::span<const double> beta) {
  return Decode<stats::GlmAggregate>(
      Send(step, beta), [&](const json& j) -> Result<stats::GlmAggregate> {
        stats::GlmAggregate a;
        a.n = SiteCount(j.at("n"));
        a.xtwx = j.at("xtwx").get<std::vector<double>>();
        a.xtwz = j.at("xtwz").get<std::vector<double>>();
        a.deviance = j.at("deviance").get<double>();
        // null: not finite (a Gaussian site's at start)
        a.loglik = j.at("loglik").is_null() ? std::numeric_limits<double>::quiet_NaN()
                                            : j.at("loglik").get<double>();
        a.extreme_fits = SiteCount(j.at("extreme_fits"));
        RETURN_IF_ERROR(CheckSizes(a.xtwz.size(), a.xtwx.size(), p_));
        return a;
      });
}

Result<stats::GlmAggregate> RemoteGlmSite::Evaluate(std::span<const double> beta) {
  return Ask("evaluate", beta);
}

Result<stats::GlmAggregate> RemoteGlmSite::EvaluateAtStart() { return Ask("start", {}); }

}  // namespace passerelle::analysis
