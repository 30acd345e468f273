package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
)

// answer is how the drill reads one GraphQL response.
type answer struct {
	OK    bool   // data and no error
	Retry bool   // failed in a way a client retries: transport, HTTP 5xx, INTERNAL, UNAVAILABLE
	Code  string // the first error's extensions.code, or a transport description
	Msg   string
	Data  json.RawMessage
}

// retryCodes are the error codes the drill treats as "failed, try again": today's server
// answers a lost database with INTERNAL; issue 15 turns that into UNAVAILABLE (HTTP 503).
var retryCodes = map[string]bool{"INTERNAL": true, "UNAVAILABLE": true, "RATE_LIMITED": true}

// classify reads an HTTP exchange's outcome.
func classify(status int, body []byte, err error) answer {
	if err != nil {
		return answer{Retry: true, Code: "CONNECTION", Msg: err.Error()}
	}
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message    string `json:"message"`
			Extensions struct {
				Code string `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	if jerr := json.Unmarshal(body, &r); jerr != nil {
		return answer{Retry: true, Code: fmt.Sprintf("HTTP %d", status), Msg: truncate(string(body), 200)}
	}
	if len(r.Errors) > 0 {
		e := r.Errors[0]
		code := e.Extensions.Code
		a := answer{Code: code, Msg: e.Message, Retry: code == "" || retryCodes[code] || status >= 500}
		if code == "" {
			a.Code = fmt.Sprintf("HTTP %d", status)
		}
		return a
	}
	if status != http.StatusOK || len(r.Data) == 0 || string(r.Data) == "null" {
		return answer{Retry: true, Code: fmt.Sprintf("HTTP %d", status), Msg: truncate(string(body), 200)}
	}
	return answer{OK: true, Data: r.Data}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// call posts one GraphQL operation to base (http://host:port) with a bearer token.
func call(ctx context.Context, client *http.Client, base, token, query string, vars map[string]any) answer {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/graphql", bytes.NewReader(body))
	if err != nil {
		return answer{Code: "REQUEST", Msg: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return classify(0, nil, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return classify(resp.StatusCode, b, err)
}

// nodeID is the opaque id the API gives a Node: base64url of "Type:uuid" (graph/scalar).
func nodeID(typ string, id uuid.UUID) string {
	return base64.RawURLEncoding.EncodeToString([]byte(typ + ":" + id.String()))
}

// rawID reads the uuid back out of an opaque id.
func rawID(id string) (uuid.UUID, error) {
	if u, err := uuid.Parse(id); err == nil {
		return u, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil {
		return uuid.Nil, fmt.Errorf("id %q is neither a uuid nor an opaque id", id)
	}
	_, after, ok := strings.Cut(string(b), ":")
	if !ok {
		return uuid.Nil, fmt.Errorf("id %q holds no type", id)
	}
	return uuid.Parse(after)
}

// backoff is the pause before retry n (1, 2, ...): 100 ms doubling to 2 s.
func backoff(n int) time.Duration {
	d := 100 * time.Millisecond
	for i := 1; i < n && d < 2*time.Second; i++ {
		d *= 2
	}
	return min(d, 2*time.Second)
}
