package auth

import (
	"net/http"
	"strings"

	"github.com/recert/recert/internal/apperr"
)

// BearerToken extracts the token of an "Authorization: Bearer <token>" header. ok is false, with
// a nil error, only when no Authorization header is present. A header that is present but empty,
// repeated, of another scheme or with a token that is not RFC 6750 token68 is an
// UNAUTHENTICATED *apperr.Error. The scheme is matched case-insensitively.
func BearerToken(h http.Header) (token string, ok bool, err error) {
	vals := h.Values("Authorization")
	switch {
	case len(vals) == 0:
		return "", false, nil
	case len(vals) > 1:
		return "", false, apperr.Unauth("more than one Authorization header")
	}
	scheme, rest, found := strings.Cut(strings.TrimSpace(vals[0]), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false, apperr.Unauth("Authorization header must use the Bearer scheme")
	}
	token = strings.TrimLeft(rest, " ")
	if !found || !isToken68(token) {
		return "", false, apperr.Unauth("malformed Authorization header")
	}
	return token, true, nil
}

// isToken68 reports whether s matches token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isToken68(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
		default:
			return false
		}
	}
	return true
}
