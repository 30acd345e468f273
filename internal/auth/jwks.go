package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"

	"github.com/MicahParks/jwkset"
)

// minRSABits is the smallest RSA modulus accepted from the key set.
const minRSABits = 2048

// jwksKeys finds verification keys in a (refreshing) JWK Set.
type jwksKeys struct {
	store jwkset.Storage
}

// key returns the public key for a token with the given header and alg.
//
// A token with a kid gets exactly that key; an unknown kid triggers a rate-limited refetch of
// the set (key rotation). A token without a kid is refused unless the set holds exactly one key
// usable for alg: trying every key would let any key in the set vouch for a token, and would
// hide a misconfigured issuer, while single-key providers commonly omit kid.
func (k *jwksKeys) key(ctx context.Context, header map[string]any, alg string) (any, error) {
	if raw, ok := header["kid"]; ok {
		kid, ok := raw.(string)
		if !ok || kid == "" {
			return nil, errBadKID
		}
		jwk, err := k.store.KeyRead(ctx, kid)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errUnknownKey, err)
		}
		return usableKey(jwk, alg)
	}
	all, err := k.store.KeyReadAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUnknownKey, err)
	}
	var found []any
	for _, jwk := range all {
		if key, err := usableKey(jwk, alg); err == nil {
			found = append(found, key)
		}
	}
	if len(found) != 1 {
		return nil, errKIDRequired
	}
	return found[0], nil
}

// usableKey returns the public key of jwk if it may verify an alg signature: its own alg, when
// present, equals alg; its use, when present, is "sig"; and its type and size fit alg.
func usableKey(jwk jwkset.JWK, alg string) (any, error) {
	m := jwk.Marshal()
	if m.ALG != "" && string(m.ALG) != alg {
		return nil, errKeyMismatch
	}
	if m.USE != "" && m.USE != jwkset.UseSig {
		return nil, errKeyMismatch
	}
	key := jwk.Key()
	if pk, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		key = pk.Public()
	}
	switch k := key.(type) {
	case *rsa.PublicKey:
		if (alg == "RS256" || alg == "PS256") && k.N.BitLen() >= minRSABits {
			return k, nil
		}
	case *ecdsa.PublicKey:
		if alg == "ES256" && k.Curve == elliptic.P256() {
			return k, nil
		}
	case ed25519.PublicKey:
		if alg == "EdDSA" {
			return k, nil
		}
	}
	return nil, errKeyMismatch
}
