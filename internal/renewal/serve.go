package renewal

import (
	"math/rand/v2"
	"sync"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/catalog"
)

// Rand is the randomness serving needs. Implementations must be safe for concurrent use.
type Rand interface {
	// Perm returns a random permutation of 0..n-1.
	Perm(n int) []int
}

// systemRand uses math/rand/v2's top-level source: seeded randomly, safe for concurrent use.
type systemRand struct{}

func (systemRand) Perm(n int) []int { return rand.Perm(n) }

// Seeded returns a deterministic Rand for tests: the same seed serves the same questions in
// the same order.
func Seeded(seed uint64) Rand {
	return &lockedRand{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func (l *lockedRand) Perm(n int) []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Perm(n)
}

// Serve picks n questions of bank at random (fewer if the bank is smaller), in random order,
// each with its choices shuffled (docs/domain.md "Attempts": the questions served are fixed for
// the attempt).
func Serve(bank []catalog.Question, n int, rnd Rand) []Served {
	n = min(n, len(bank))
	out := make([]Served, 0, n)
	for _, qi := range rnd.Perm(len(bank))[:n] {
		q := bank[qi]
		order := make([]uuid.UUID, len(q.Choices))
		for i, ci := range rnd.Perm(len(q.Choices)) {
			order[i] = q.Choices[ci].ID
		}
		out = append(out, Served{QuestionID: q.ID, ChoiceOrder: order})
	}
	return out
}
