// Package userlist checks a password against what a `userlist` user line stores:
// clear text (`insecure-password`), SHA-crypt hashes ($5$ SHA-256 and $6$ SHA-512, as
// `openssl passwd -5|-6` and `mkpasswd -m sha-512` make them) and bcrypt ($2a$, $2b$,
// $2y$). It is the one password check of appl: the userlist decoder (proxy/config, whose
// Userlist serves http_auth in proxy/acl) and the stats page's `stats auth` lines both
// call Check.
//
// SHA-crypt is implemented here from Ulrich Drepper's specification "Unix crypt using
// SHA-256 and SHA-512" (no allowed module provides it); bcrypt comes from
// golang.org/x/crypto/bcrypt.
//
// The package knows nothing of configuration files, HTTP or ACLs.
package userlist
