#include "passerelle/formula/model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "passerelle/formula/eval.h"

namespace passerelle::formula {
namespace {

data::Table MakeTable() {
  data::Variable time{}, status{}, age{}, cell{}, sex{};
  time.name = "time", time.type = data::VarType::kNumber;
  status.name = "status", status.type = data::VarType::kInteger;
  age.name = "age", age.type = data::VarType::kNumber;
  cell.name = "cell", cell.type = data::VarType::kCategory;
  sex.name = "sex", sex.type = data::VarType::kInteger;
  data::ColumnBuilder t(time), s(status), a(age), c(cell), x(sex);
  const double times[] = {5, 8, 3, 9, 12, 4};
  const double statuses[] = {2, 1, 2, 2, 1, 2};
  const double ages[] = {60, 70, NAN, 50, 65, 55};
  const char* cells[] = {"small", "adeno", "small", "large", "adeno", "large"};
  const double sexes[] = {1, 2, 1, 2, 2, 1};
  for (int i = 0; i < 6; ++i) {
    t.AddNumber(times[i]);
    s.AddNumber(statuses[i]);
    if (std::isnan(ages[i]))
      a.AddMissing();
    else
      a.AddNumber(ages[i]);
    c.AddText(cells[i]);
    x.AddNumber(sexes[i]);
  }
  data::Table table;
  table.columns = {t.Finish(), s.Finish(), a.Finish(), c.Finish(), x.Finish()};
  table.rows = 6;
  return table;
}

ModelFrame Build(const std::string& formula, ModelKind kind, const std::string& subset = "") {
  auto f = ParseFormula(formula);
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  auto m = BuildModelFrame(*f, MakeTable(), kind, subset);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? *m : ModelFrame{};
}

TEST(Model, CoxDesignWithContrastsAndNaOmit) {
  const ModelFrame m = Build("Surv(time, status == 2) ~ age + cell", ModelKind::kCox);
  EXPECT_EQ(m.n, 5u);
  EXPECT_EQ(m.n_omitted_na, 1u);
  EXPECT_EQ(m.coef_names, (std::vector<std::string>{"age", "celllarge", "cellsmall"}));
  EXPECT_EQ(m.status, (std::vector<double>{1, 0, 1, 0, 1}));
  EXPECT_EQ(m.X(0, 2), 1.0);  // row 1 is small
  EXPECT_EQ(m.X(2, 1), 1.0);  // row 4 is large
}

TEST(Model, FactorLevelsReleveledAndNumericFactors) {
  EXPECT_EQ(
      Build("Surv(time, status) ~ relevel(cell, ref = \"small\")", ModelKind::kCox).coef_names,
      (std::vector<std::string>{"relevel(cell, ref = \"small\")adeno",
                                "relevel(cell, ref = \"small\")large"}));
  EXPECT_EQ(Build("Surv(time, status) ~ factor(sex)", ModelKind::kCox).coef_names,
            (std::vector<std::string>{"factor(sex)2"}));
  EXPECT_EQ(Build("Surv(time, status) ~ factor(cell, levels = c(\"large\", \"small\", \"adeno\"))",
                  ModelKind::kCox)
                .coef_names.front(),
            "factor(cell, levels = c(\"large\", \"small\", \"adeno\"))small");
}

TEST(Model, InteractionsOrderedAsR) {
  auto f = ParseFormula("time ~ sex:age + cell * age");
  ASSERT_TRUE(f.ok());
  auto frame = BuildModelFrame(*f, MakeTable(), ModelKind::kRegression, "");
  ASSERT_TRUE(frame.ok()) << frame.status().ToString();
  EXPECT_EQ(frame->coef_names,
            (std::vector<std::string>{"(Intercept)", "celllarge", "cellsmall", "age", "sex:age",
                                      "celllarge:age", "cellsmall:age"}));
}

// The design as R's model.matrix() gives it (values printed by R 4.2.2), column after column:
// a factor by a condition, a number, and a factor coded in full without an intercept.
TEST(Model, DesignValuesAsR) {
  const ModelFrame m = Build("time ~ cell * I(age > 60) + age", ModelKind::kRegression);
  EXPECT_EQ(m.coef_names, (std::vector<std::string>{
                              "(Intercept)", "celllarge", "cellsmall", "I(age > 60)TRUE", "age",
                              "celllarge:I(age > 60)TRUE", "cellsmall:I(age > 60)TRUE"}));
  EXPECT_EQ(m.x, (std::vector<double>{1, 1, 1,  1,  1,  0,  0,  1, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0,
                                      1, 0, 60, 70, 50, 65, 55, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  const ModelFrame full = Build("time ~ 0 + cell + age", ModelKind::kRegression);
  EXPECT_EQ(full.coef_names,
            (std::vector<std::string>{"celladeno", "celllarge", "cellsmall", "age"}));
  EXPECT_EQ(full.x,
            (std::vector<double>{0, 1, 0, 1, 0, 0, 0, 1, 0, 1, 1, 0, 0, 0, 0, 60, 70, 50, 65, 55}));
}

TEST(Model, SubsetOffsetStrataAndGroups) {
  auto f = ParseFormula("time ~ age + offset(log(time)) + strata(sex)");
  ASSERT_TRUE(f.ok());
  auto m = BuildModelFrame(*f, MakeTable(), ModelKind::kRegression, "cell != \"adeno\"");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->n, 3u);  // 4 after the subset, one without age
  EXPECT_EQ(m->n_subset_out, 2u);
  EXPECT_NEAR(m->offset[0], std::log(5.0), 1e-15);
  EXPECT_EQ(m->strata_labels, (std::vector<std::string>{"sex=1", "sex=2"}));
  const ModelFrame g = Build("Surv(time, status) ~ cell", ModelKind::kGroups);
  EXPECT_EQ(g.group_labels, (std::vector<std::string>{"cell=adeno", "cell=large", "cell=small"}));
  EXPECT_EQ(Build("Surv(time, status) ~ 1", ModelKind::kGroups).group_labels,
            (std::vector<std::string>{"all"}));
}

TEST(Model, ClearErrors) {
  auto f = ParseFormula("Surv(time, status) ~ weight");
  ASSERT_TRUE(f.ok());
  auto m = BuildModelFrame(*f, MakeTable(), ModelKind::kCox, "");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("no variable 'weight' in the data"), std::string::npos);
  EXPECT_FALSE(BuildModelFrame(*f, MakeTable(), ModelKind::kCox, "age >").ok());
  auto empty = BuildModelFrame(*ParseFormula("Surv(time, status) ~ age"), MakeTable(),
                               ModelKind::kCox, "age > 100");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("no rows left"), std::string::npos);
  EXPECT_FALSE(ParseFormula("age + sex").ok());
  auto bad_event =
      BuildModelFrame(*ParseFormula("Surv(time, age) ~ sex"), MakeTable(), ModelKind::kCox, "");
  EXPECT_FALSE(bad_event.ok());
}

// A factor of an identifier (or an interaction of many levels) is refused before its columns are
// built: 2,000 levels would be 2,000 columns of every row.
TEST(Model, TooManyColumnsAreRefusedBeforeTheyAreBuilt) {
  data::Variable time{}, status{}, id{};
  time.name = "time", time.type = data::VarType::kNumber;
  status.name = "status", status.type = data::VarType::kInteger;
  id.name = "id", id.type = data::VarType::kCategory;
  data::ColumnBuilder t(time), s(status), i(id);
  for (int r = 0; r < 2000; ++r) {
    t.AddNumber(r + 1);
    s.AddNumber(r % 2);
    i.AddText("P" + std::to_string(r));
  }
  data::Table table;
  table.rows = 2000;
  table.columns = {t.Finish(), s.Finish(), i.Finish()};
  for (const char* formula : {"Surv(time, status) ~ id", "Surv(time, status) ~ time:id"}) {
    auto m = BuildModelFrame(*ParseFormula(formula), table, ModelKind::kCox, "");
    ASSERT_FALSE(m.ok()) << formula;
    EXPECT_NE(m.status().message().find("the model would have more than 500 columns (at 'id')"),
              std::string::npos)
        << m.status().message();
  }
  EXPECT_TRUE(
      BuildModelFrame(*ParseFormula("Surv(time, status) ~ time"), table, ModelKind::kCox, "").ok());
}

// The columns of the sliced tables below, filled row by row: time, status, age, a category
// (one of kCells, or missing) and sex.
const std::vector<std::string> kCells = {"squamous", "small", "adeno", "large"};
struct Columns {
  static data::Variable Of(const char* name, data::VarType type) {
    data::Variable v{};
    v.name = name;
    v.type = type;
    if (type == data::VarType::kCategory) v.levels = kCells;
    return v;
  }
  data::ColumnBuilder t{Of("time", data::VarType::kNumber)},
      s{Of("status", data::VarType::kInteger)}, a{Of("age", data::VarType::kNumber)},
      c{Of("cell", data::VarType::kCategory)}, x{Of("sex", data::VarType::kInteger)};
  data::Table Finish(size_t rows) {
    data::Table table;
    table.columns = {t.Finish(), s.Finish(), a.Finish(), c.Finish(), x.Finish()};
    table.rows = rows;
    return table;
  }
};

// A table of 40 rows whose first rows have only the event code 1 (the whole table codes events
// 1/2), groups that first appear in late rows, and missing values.
data::Table SlicedTable() {
  Columns columns;
  data::ColumnBuilder &t = columns.t, &s = columns.s, &a = columns.a, &c = columns.c,
                      &x = columns.x;
  for (int i = 0; i < 40; ++i) {
    t.AddNumber((i * 37) % 23 + 1);
    s.AddNumber(i < 10 ? 1 : 1 + (i * 7) % 3 % 2);
    if (i % 9 == 4) {
      a.AddMissing();
    } else {
      a.AddNumber(40 + (i * 13) % 45);
    }
    c.AddText(kCells[i < 20 ? (i % 2) * 2 : (i * 5) % 4]);
    x.AddNumber(i < 30 ? 1 + i % 2 : 3);
  }
  return columns.Finish(40);
}

TEST(Model, SlicesOfAFrameAreTheWholeTablesFrame) {
  const data::Table table = SlicedTable();
  const std::string subset = "age < 80";
  for (const char* text : {"Surv(time, status) ~ cell + I(age > 60) + strata(sex)",
                           "Surv(time, status == 2) ~ sex", "Surv(time, status) ~ 1"}) {
    SCOPED_TRACE(text);
    const Formula f = *ParseFormula(text);
    const Result<ModelFrame> whole = BuildModelFrame(f, table, ModelKind::kGroups, subset);
    ASSERT_TRUE(whole.ok()) << whole.status().ToString();
    for (size_t slice_rows : {1, 3, 7, 40}) {
      SCOPED_TRACE(slice_rows);
      // Each row's time, event, stratum and group as the slices give them, and each key's label.
      std::vector<size_t> rows;
      std::vector<double> time, status;
      std::vector<std::string> strata, groups;
      std::map<std::vector<double>, std::string> strata_keys, group_keys;
      size_t slices = 0, omitted = 0, subset_out = 0;
      const Status done = ForEachFrameSlice(
          f, table, ModelKind::kGroups, subset, {}, slice_rows, [&](ModelFrame& m) {
            ++slices;
            omitted += m.n_omitted_na;
            subset_out += m.n_subset_out;
            for (size_t k = 0; k < m.n; ++k) {
              rows.push_back(m.rows[k]);
              time.push_back(m.time[k]);
              status.push_back(m.status[k]);
              strata.push_back(m.strata.empty() ? "" : m.strata_labels[m.strata[k]]);
              groups.push_back(m.group_labels[m.group[k]]);
            }
            for (size_t s = 0; s < m.strata_keys.size(); ++s) {
              strata_keys[m.strata_keys[s]] = m.strata_labels[s];
            }
            for (size_t g = 0; g < m.group_keys.size(); ++g) {
              group_keys[m.group_keys[g]] = m.group_labels[g];
            }
            return Status::Ok();
          });
      ASSERT_TRUE(done.ok()) << done.ToString();
      EXPECT_EQ(slices, (table.rows + slice_rows - 1) / slice_rows);
      EXPECT_EQ(rows, whole->rows);
      EXPECT_EQ(time, whole->time);
      EXPECT_EQ(status, whole->status);  // 1/2 from every row, not the first slice's 1s
      EXPECT_EQ(omitted, whole->n_omitted_na);
      EXPECT_EQ(subset_out, whole->n_subset_out);
      for (size_t k = 0; k < whole->n; ++k) {
        EXPECT_EQ(strata[k], whole->strata.empty() ? "" : whole->strata_labels[whole->strata[k]]);
        EXPECT_EQ(groups[k], whole->group_labels[whole->group[k]]);
      }
      // Ordered by their keys, the slices' groups and strata are the table's, in its order.
      std::vector<std::string> ordered;
      for (const auto& [key, label] : group_keys) ordered.push_back(label);
      EXPECT_EQ(ordered, whole->group_labels);
      ordered.clear();
      for (const auto& [key, label] : strata_keys) ordered.push_back(label);
      EXPECT_EQ(ordered, whole->strata_labels);
    }
  }
}

TEST(Model, LevelsFromEveryRowTakeTheWholeTableAtOnce) {
  const data::Table table = SlicedTable();
  for (const char* text :
       {"Surv(time, status) ~ factor(sex)", "Surv(time, status) ~ relevel(factor(sex), ref = 3)"}) {
    size_t slices = 0;
    const Status done = ForEachFrameSlice(*ParseFormula(text), table, ModelKind::kGroups, "", {}, 3,
                                          [&](ModelFrame& m) {
                                            ++slices;
                                            EXPECT_EQ(m.n, 40u);
                                            return Status::Ok();
                                          });
    EXPECT_TRUE(done.ok()) << done.ToString();
    EXPECT_EQ(slices, 1u) << text;
  }
  // A row a slice names in a message is the table's; no row left in any slice is an error.
  const Status negative =
      ForEachFrameSlice(*ParseFormula("Surv(22 - time, status) ~ 1"), table, ModelKind::kGroups, "",
                        {}, 7, [](ModelFrame&) { return Status::Ok(); });
  EXPECT_NE(negative.message().find("(row 19)"), std::string::npos) << negative.ToString();
  const Status none =
      ForEachFrameSlice(*ParseFormula("Surv(time, status) ~ cell"), table, ModelKind::kGroups,
                        "age > 100", {}, 7, [](ModelFrame&) { return Status::Ok(); });
  EXPECT_NE(none.message().find("no rows left"), std::string::npos) << none.ToString();
}

// Random tables: missing values, an event coded 0/1 or 1/2, a category with a level no row
// has. Every formula's slices, of any size, hold the whole frame's rows, values and design.
data::Table RandomTable(unsigned seed) {
  std::mt19937 rng(seed);
  const auto uniform = [&rng](int k) { return static_cast<int>(rng() % static_cast<unsigned>(k)); };
  Columns columns;
  data::ColumnBuilder &t = columns.t, &s = columns.s, &a = columns.a, &c = columns.c,
                      &x = columns.x;
  const int rows = 20 + uniform(80), coding = uniform(2);
  for (int i = 0; i < rows; ++i) {
    const auto maybe = [&](data::ColumnBuilder& b, double value) {
      uniform(20) == 0 ? b.AddMissing() : b.AddNumber(value);
    };
    maybe(t, 1 + uniform(30));
    maybe(s, coding + uniform(2));
    maybe(a, 30 + uniform(50) + 0.5 * uniform(2));
    uniform(20) == 0 ? c.AddMissing() : c.AddText(kCells[uniform(3)]);
    x.AddNumber(1 + uniform(2));
  }
  return columns.Finish(static_cast<size_t>(rows));
}

TEST(Model, SlicesOfRandomTablesAreTheWholeFrames) {
  const std::vector<std::pair<const char*, ModelKind>> formulas = {
      {"Surv(time, status) ~ cell + strata(sex)", ModelKind::kGroups},
      {"Surv(time, status) ~ I(age > 60) + sex", ModelKind::kGroups},
      {"Surv(time, status == 1) ~ 1", ModelKind::kGroups},
      {"status ~ age + cell", ModelKind::kRegression},
      {"age ~ cell * sex + offset(log(time))", ModelKind::kRegression},
      {"I(time > 10) ~ age:cell + I(sex == 2) - 1", ModelKind::kRegression}};
  for (unsigned seed = 0; seed < 25; ++seed) {
    const data::Table table = RandomTable(seed);
    for (const auto& formula : formulas) {
      const char* text = formula.first;
      const ModelKind kind = formula.second;  // (a lambda cannot capture a binding)
      for (const char* subset : {"", "age < 70 | sex == 2"}) {
        SCOPED_TRACE(std::string(text) + " | " + subset + " | seed " + std::to_string(seed));
        const Formula f = *ParseFormula(text);
        FrameOptions options;
        if (kind == ModelKind::kRegression && seed % 2) options.weights = "sex";
        const Result<ModelFrame> whole = BuildModelFrame(f, table, kind, subset, options);
        for (size_t slice_rows : {1, 7, 16}) {
          SCOPED_TRACE(slice_rows);
          std::vector<size_t> rows;
          std::vector<double> time, status, y, offset, weights;
          std::vector<std::vector<double>> x;  // by column
          std::vector<std::string> groups;
          size_t omitted = 0, subset_out = 0;
          const Status done =
              ForEachFrameSlice(f, table, kind, subset, options, slice_rows, [&](ModelFrame& m) {
                omitted += m.n_omitted_na;
                subset_out += m.n_subset_out;
                if (m.n == 0) return Status::Ok();
                EXPECT_EQ(m.coef_names, whole->coef_names);
                x.resize(m.p());
                for (size_t k = 0; k < m.n; ++k) {
                  rows.push_back(m.rows[k]);
                  for (size_t j = 0; j < m.p(); ++j) x[j].push_back(m.X(k, j));
                  if (kind == ModelKind::kGroups) {
                    time.push_back(m.time[k]);
                    status.push_back(m.status[k]);
                    groups.push_back(m.group_labels[m.group[k]] + "/" +
                                     (m.strata.empty() ? "" : m.strata_labels[m.strata[k]]));
                  }
                }
                y.insert(y.end(), m.y.begin(), m.y.end());
                offset.insert(offset.end(), m.offset.begin(), m.offset.end());
                weights.insert(weights.end(), m.weights.begin(), m.weights.end());
                return Status::Ok();
              });
          ASSERT_EQ(done.ok(), whole.ok()) << done.ToString() << " / " << whole.status().ToString();
          if (!whole.ok()) {
            EXPECT_EQ(done.message(), whole.status().message());
            continue;
          }
          EXPECT_EQ(rows, whole->rows);
          EXPECT_EQ(omitted, whole->n_omitted_na);
          EXPECT_EQ(subset_out, whole->n_subset_out);
          EXPECT_EQ(y, whole->y);
          EXPECT_EQ(offset, whole->offset);
          EXPECT_EQ(weights, whole->weights);
          for (size_t j = 0; j < whole->p(); ++j) {
            EXPECT_EQ(x[j], std::vector<double>(whole->x.begin() + j * whole->n,
                                                whole->x.begin() + (j + 1) * whole->n));
          }
          if (kind != ModelKind::kGroups) continue;
          EXPECT_EQ(time, whole->time);
          EXPECT_EQ(status, whole->status);
          for (size_t k = 0; k < whole->n; ++k) {
            EXPECT_EQ(groups[k],
                      whole->group_labels[whole->group[k]] + "/" +
                          (whole->strata.empty() ? "" : whole->strata_labels[whole->strata[k]]));
          }
        }
      }
    }
  }
}

TEST(Eval, NaLogicFollowsR) {
  const data::Table t = MakeTable();
  auto v = Evaluate(*ParseExpr("age > 58 & sex == 2", "t"), t, "t");
  ASSERT_TRUE(v.ok());
  // ages 60 70 NA 50 65 55; sex 1 2 1 2 2 1
  EXPECT_EQ(v->values[1], 1.0);
  EXPECT_EQ(v->values[2], 0.0);  // NA & FALSE is FALSE
  auto w = Evaluate(*ParseExpr("age > 58 | sex == 2", "t"), t, "t");
  EXPECT_TRUE(std::isnan(w->values[2]));  // NA | FALSE is NA
  auto in = Evaluate(*ParseExpr("cell %in% c(\"small\", \"large\")", "t"), t, "t");
  EXPECT_EQ(in->values, (std::vector<double>{1, 0, 1, 1, 0, 1}));
  EXPECT_FALSE(Evaluate(*ParseExpr("cell + 1", "t"), t, "t").ok());
  EXPECT_FALSE(Evaluate(*ParseExpr("cell < \"b\"", "t"), t, "t").ok());
}

}  // namespace
}  // namespace passerelle::formula
