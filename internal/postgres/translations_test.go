package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/recert/recert/internal/catalog/seed"
	"github.com/recert/recert/internal/postgres"
	"github.com/recert/recert/internal/postgres/pgtest"
)

// TestLoadCatalogTranslatesShippedVersions: a shipped version stored before its Japanese text
// shipped (migration 0030 left it English-only) gets the text, and offers ja, when the catalog
// loads again; untranslated ones stay English-only, and loading once more changes nothing.
func TestLoadCatalogTranslatesShippedVersions(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	cat, err := seed.Load()
	if err != nil {
		t.Fatal(err)
	}
	shipped := 0
	for _, c := range cat.Certifications {
		if c.RenewalAssessment != nil {
			for _, q := range c.RenewalAssessment.Questions {
				shipped += len(q.Translations)
			}
		}
	}
	store := postgres.New(db)
	now := time.Date(2021, 3, 1, 9, 0, 0, 0, time.UTC)
	langs := func(code string) string {
		t.Helper()
		var l pq.StringArray
		if err := db.Get(&l, `SELECT v.languages FROM assessment_versions v
JOIN renewal_assessments a ON a.id = v.assessment_id JOIN certifications c ON c.id = a.certification_id
WHERE c.code = $1 AND v.version = 1`, code); err != nil {
			t.Fatal(err)
		}
		return strings.Join(l, ",")
	}
	if err := store.LoadCatalog(ctx, cat, now); err != nil {
		t.Fatal(err)
	}
	if got := langs("azure-administrator-associate"); got != "en,ja" {
		t.Fatalf("fresh load: got %s, want en,ja", got)
	}
	// As a database loaded before the translations shipped looks after migration 0030.
	if _, err := db.Exec(`DELETE FROM assessment_question_texts; UPDATE assessment_versions SET languages = '{en}'`); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := store.LoadCatalog(ctx, cat, now); err != nil {
			t.Fatal(err)
		}
		var texts int
		if err := db.Get(&texts, `SELECT count(*) FROM assessment_question_texts WHERE language = 'ja'`); err != nil || texts != shipped {
			t.Fatalf("got %d Japanese texts (%v), want the %d shipped", texts, err, shipped)
		}
		if got := langs("azure-administrator-associate"); got != "en,ja" {
			t.Errorf("reloaded: got %s, want en,ja", got)
		}
	}
}
