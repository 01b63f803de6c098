// Command verify is the README's example of how a registry verifies a
// submission with nothing but a JOSE library (go-jose) and the standard
// library: fetch the JWKS, parse the JWS, find the key by kid, verify.
//
//	go run ./docs/verify -jwks http://localhost:8080/.well-known/jwks.json < envelope.jws
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/go-jose/go-jose/v4"
)

func main() {
	jwksURL := flag.String("jwks", "http://localhost:8080/.well-known/jwks.json", "the service's JWKS")
	flag.Parse()

	// 1. The public keys. Cache them; fetch again when a kid is unknown.
	resp, err := http.Get(*jwksURL)
	if err != nil {
		fail(err)
	}
	defer resp.Body.Close()
	var keys jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&keys); err != nil {
		fail(err)
	}

	// 2. The envelope, as POSTed (Content-Type: application/jose) or
	// leased from GET /api/v1/submissions.
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	jws, err := jose.ParseSignedCompact(string(raw), []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		fail(fmt.Errorf("not an EdDSA JWS: %w", err))
	}

	// 3. The key named by kid, and the signature.
	kid := jws.Signatures[0].Header.KeyID
	found := keys.Key(kid)
	if len(found) == 0 {
		fail(fmt.Errorf("unknown kid %q: fetch the JWKS again", kid))
	}
	payload, err := jws.Verify(found[0].Key)
	if err != nil {
		fail(fmt.Errorf("bad signature: %w", err))
	}

	// 4. The payload: store it under its id, which is the idempotency key.
	var env struct {
		ID, Type, OrderID string
	}
	if err := json.Unmarshal(payload, &env); err != nil {
		fail(err)
	}
	fmt.Printf("verified %s envelope %s for order %s\n", env.Type, env.ID, env.OrderID)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "verify:", err)
	os.Exit(1)
}
