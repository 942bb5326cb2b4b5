// Small dense symmetric matrices (p x p, row-major): the LDL' factorisation with the
// singularity rule of R's survival package (cholesky2: a pivot below toler x the largest
// diagonal marks the column as singular), solves and inverses over the non-singular part.
#ifndef PASSERELLE_STATS_LINALG_H_
#define PASSERELLE_STATS_LINALG_H_

#include <cstddef>
#include <span>
#include <vector>

namespace passerelle::stats {

class SymmetricFactor {
 public:
  // Factors the symmetric p x p matrix `a` (row-major; only the lower triangle is read).
  SymmetricFactor(std::span<const double> a, size_t p, double toler);

  size_t p() const { return p_; }
  size_t rank() const { return rank_; }
  bool singular(size_t i) const { return singular_[i]; }
  // False when a pivot was clearly negative: the matrix is not positive semi-definite.
  bool positive() const { return positive_; }
  // x = A^- b, with singular components set to 0.
  std::vector<double> Solve(std::span<const double> b) const;
  // A^- (generalised inverse; rows and columns of singular components are 0), row-major.
  std::vector<double> Inverse() const;

 private:
  size_t p_;
  std::vector<double> l_;  // unit lower triangle below the diagonal, D on the diagonal
  std::vector<bool> singular_;
  size_t rank_ = 0;
  bool positive_ = true;
};

// Quadratic form b' A^- b with A factored.
double QuadraticForm(const SymmetricFactor& factor, std::span<const double> b);

// Σ_i v_i x_i x_i' over rows given a piece at a time, of x's first p columns (row i's column j
// at x[i * row_step + j * column_step]: row-major or column-major). Row k goes into lane k mod 4
// of each entry, the four lanes added up in a fixed order at the end, so the result depends
// only on the rows — never on the compiler's vector width, nor on how the rows were cut into
// pieces or buffered.
class WeightedCrossProducts {
 public:
  explicit WeightedCrossProducts(size_t p);
  void Add(const double* x, const double* v, size_t row_step, size_t column_step, size_t rows);
  // Adds the sum to the lower triangle of `lower` (p x p, row-major).
  void AddTo(double* lower);

 private:
  void Flush();  // the rows in the lanes into the sums
  size_t p_, filled_ = 0;
  std::vector<double> acc_, xt_, yt_;
};

}  // namespace passerelle::stats

#endif  // PASSERELLE_STATS_LINALG_H_
