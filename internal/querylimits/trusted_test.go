package querylimits_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/recert/recert/internal/querylimits"
)

// The typed client example's manifest, as graphql-codegen's client preset writes it.
const exampleManifest = "../../examples/web/src/gql/persisted-documents.json"

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Issue 14, point 3: TRUSTED_DOCUMENTS_FILE takes the client preset's persisted-documents.json,
// whose keys are "sha256:<hex>", besides plain hex keys and Apollo manifests.
func TestTrustedDocumentsAcceptPrefixedHashes(t *testing.T) {
	doc := `query Catalog { certifications(first: 3) { totalCount } }`
	for _, key := range []string{sha256Hex(doc), "sha256:" + sha256Hex(doc), "SHA256:" + strings.ToUpper(sha256Hex(doc))} {
		b, _ := json.Marshal(map[string]string{key: doc})
		docs, err := querylimits.ParseTrustedDocuments(b)
		if err != nil || docs.Len() != 1 {
			t.Errorf("key %s: got %v, %v; want one document", key, docs, err)
		}
	}
	for _, key := range []string{"sha256:" + sha256Hex(doc+" "), "md5:" + sha256Hex(doc), "sha256:"} {
		b, _ := json.Marshal(map[string]string{key: doc})
		if _, err := querylimits.ParseTrustedDocuments(b); err == nil {
			t.Errorf("key %q: got no error, want the hash refused", key)
		}
	}
}

// The example's committed manifest loads as it is, and each of its documents is valid against
// the schema the server runs.
func TestTrustedDocumentsLoadTheExampleManifest(t *testing.T) {
	docs, err := querylimits.LoadTrustedDocuments(exampleManifest)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exampleManifest)
	if err != nil {
		t.Fatal(err)
	}
	var byID map[string]string
	if err := json.Unmarshal(b, &byID); err != nil {
		t.Fatal(err)
	}
	if docs.Len() == 0 || docs.Len() != len(byID) {
		t.Fatalf("loaded %d documents of %d", docs.Len(), len(byID))
	}
	for id, text := range byID {
		if !strings.HasPrefix(id, "sha256:") {
			t.Errorf("id %s: want the client preset's sha256: prefix", id)
		}
		q, perr := parser.ParseQuery(&ast.Source{Input: text})
		if perr != nil {
			t.Errorf("%s: %v", id, perr)
			continue
		}
		if errs := validator.Validate(schema, q); len(errs) > 0 {
			t.Errorf("%s: %v", id, errs)
		}
	}
}
