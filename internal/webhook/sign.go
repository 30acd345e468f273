package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix starts every secret, as Standard Webhooks libraries expect it.
const SecretPrefix = "whsec_"

// secretBytes is the key length: 32 random bytes (the standard asks for 24 to 64).
const secretBytes = 32

// RotationOverlap is how long the previous secret still signs after a rotation (issue 16:
// both secrets sign for 24 hours, so receivers can switch without losing a delivery).
const RotationOverlap = 24 * time.Hour

// NewSecret returns a new secret: SecretPrefix and the base64 of 32 random bytes.
func NewSecret() string {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("webhook: random secret: %v", err))
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// Sign returns the `v1,` signature of one delivery: base64 of HMAC-SHA256 over
// `id.timestamp.body`, keyed with the secret's decoded bytes (Standard Webhooks 1.0).
func Sign(secret, msgID string, ts time.Time, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil {
		return "", fmt.Errorf("webhook: malformed secret: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(msgID + "." + strconv.FormatInt(ts.Unix(), 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// SignatureHeader is the `webhook-signature` value: one signature per secret, space
// separated (the current secret first, then the previous one during a rotation).
func SignatureHeader(secrets []string, msgID string, ts time.Time, body []byte) (string, error) {
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		sig, err := Sign(s, msgID, ts, body)
		if err != nil {
			return "", err
		}
		sigs = append(sigs, sig)
	}
	return strings.Join(sigs, " "), nil
}
