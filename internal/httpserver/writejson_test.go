package httpserver

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// The response written without json.Marshal is byte for byte what json.Marshal writes, and
// every response that carries more than data still goes through json.Marshal.
func TestWriteJSONWritesWhatMarshalWrites(t *testing.T) {
	yes := true
	for name, resp := range map[string]*graphql.Response{
		"data":              {Data: json.RawMessage(`{"certificationProfile":{"mcid":"500000001","nodes":[{"id":"x","expiresOn":null}]}}`)},
		"null data":         {Data: json.RawMessage(`null`)},
		"no data":           {},
		"errors":            {Data: json.RawMessage(`{"a":null}`), Errors: gqlerror.List{{Message: "no", Extensions: map[string]any{"code": "FORBIDDEN"}}}},
		"extensions":        {Data: json.RawMessage(`{"a":1}`), Extensions: map[string]any{"cost": map[string]int{"requested": 3, "limit": 1000}, "b": "<x>"}},
		"incremental parts": {Data: json.RawMessage(`{"a":1}`), Label: "l", HasNext: &yes},
	} {
		want, err := json.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		writeJSON(&got, resp)
		if !bytes.Equal(got.Bytes(), want) {
			t.Errorf("%s: wrote %s, json.Marshal writes %s", name, got.Bytes(), want)
		}
	}

	// json.Marshal would also escape <, > and & inside data's strings; written as gqlgen built
	// them they are the same JSON values (responses are application/json with nosniff).
	resp := &graphql.Response{Data: json.RawMessage(`{"legalName":"Ada <&> Lovelace"}`)}
	var got bytes.Buffer
	writeJSON(&got, resp)
	var a, b any
	want, _ := json.Marshal(resp)
	if err := json.Unmarshal(got.Bytes(), &a); err != nil {
		t.Fatalf("wrote invalid JSON %s: %v", got.Bytes(), err)
	}
	_ = json.Unmarshal(want, &b)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("wrote %s, json.Marshal writes %s", got.Bytes(), want)
	}
}
