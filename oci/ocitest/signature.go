package ocitest

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

var sigParams = regexp.MustCompile(`(\w+)="([^"]*)"`)

// verify checks the request's OCI signature (draft-cavage HTTP signatures,
// RSA-SHA256) against the test key, and the body hash.
func (f *Server) verify(r *http.Request, body []byte) error {
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "Signature ") {
		return fmt.Errorf("no signature: %q", auth)
	}
	p := map[string]string{}
	for _, m := range sigParams.FindAllStringSubmatch(auth, -1) {
		p[m[1]] = m[2]
	}
	if p["version"] != "1" || p["algorithm"] != "rsa-sha256" || !strings.HasPrefix(p["keyId"], "ocid1.tenancy.oc1..t/ocid1.user.oc1..u/aa:bb:cc") {
		return fmt.Errorf("signature parameters %v", p)
	}
	var lines []string
	for _, h := range strings.Fields(p["headers"]) {
		var v string
		switch h {
		case "(request-target)":
			v = strings.ToLower(r.Method) + " " + r.URL.RequestURI()
		case "host":
			v = r.Host
		default:
			v = r.Header.Get(h)
		}
		lines = append(lines, h+": "+v)
	}
	if r.Method == http.MethodPost {
		if !strings.Contains(p["headers"], "x-content-sha256") {
			return fmt.Errorf("POST signature does not cover the body")
		}
		sum := sha256.Sum256(body)
		if got := r.Header.Get("x-content-sha256"); got != base64.StdEncoding.EncodeToString(sum[:]) {
			return fmt.Errorf("x-content-sha256 %q does not match the body", got)
		}
	}
	sig, err := base64.StdEncoding.DecodeString(p["signature"])
	if err != nil {
		return err
	}
	h := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return rsa.VerifyPKCS1v15(f.pub, crypto.SHA256, h[:], sig)
}
