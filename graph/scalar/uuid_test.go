package scalar

import (
	"bytes"
	"context"
	"encoding/base64"
	"strconv"
	"testing"

	"github.com/google/uuid"
)

// NodeID is base64url of "Type:uuid", and a uuid outside a Node's id is written as its
// canonical text: the hand-written encoding matches the library's.
func TestNodeIDAndPlainUUIDEncoding(t *testing.T) {
	for range 200 {
		id := uuid.New()
		for _, typ := range []string{"EarnedCertification", "X", "CertificationProfileWithAVeryLongTypeNameIndeed"} {
			want := base64.RawURLEncoding.EncodeToString([]byte(typ + ":" + id.String()))
			if got := NodeID(typ, id); got != want {
				t.Fatalf("NodeID(%s, %s) = %s, want %s", typ, id, got, want)
			}
		}
		var b bytes.Buffer
		if err := MarshalUUID(id).MarshalGQLContext(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
		if b.String() != strconv.Quote(id.String()) {
			t.Fatalf("MarshalUUID wrote %s, want %q", b.String(), id.String())
		}
	}
}
