package config

import (
	"slices"
	"strings"

	"appl/internal/cfgfile"
	"appl/proxy/userlist"
)

// userlist decodes `user NAME password|insecure-password X [groups a,b]` and
// `group NAME [users a,b]`.
func (d *decoder) userlist(s *cfgfile.Section, head cfgfile.Line) {
	if s.Name == "" {
		d.errorf(head, "missing name (expected userlist NAME)")
		return
	}
	for _, u := range d.cfg.Userlists {
		if u.Name == s.Name {
			d.errorf(head, "userlist %q already declared at %s", s.Name, u.Pos)
			return
		}
	}
	ul := &Userlist{Pos: s.Pos, Name: s.Name, Groups: map[string][]string{}}
	declared := map[string]bool{}
	for _, l := range s.Lines {
		args := l.Words[1:]
		switch l.Keyword() {
		case "group":
			if len(args) == 0 {
				d.errorf(l, "missing name (expected group NAME [users USER,...])")
				continue
			}
			name := args[0]
			if declared[name] {
				d.errorf(l, "group %q declared twice", name)
				continue
			}
			declared[name] = true
			if _, ok := ul.Groups[name]; !ok {
				ul.Groups[name] = nil
			}
			switch {
			case len(args) == 1:
			case len(args) == 3 && args[1] == "users":
				for _, u := range splitList(args[2]) {
					if !slices.Contains(ul.Groups[name], u) {
						ul.Groups[name] = append(ul.Groups[name], u)
					}
				}
			default:
				d.errorf(l, "unexpected %q (expected group NAME [users USER,...])", strings.Join(args[1:], " "))
			}
		case "user":
			if len(args) < 3 {
				d.errorf(l, "needs a name and a password (expected user NAME password HASH|insecure-password TEXT [groups G,...])")
				continue
			}
			u := User{Name: args[0]}
			switch args[1] {
			case "password":
				if !strings.HasPrefix(args[2], "$") {
					d.errorf(l, "password must be a crypt(3) hash such as $6$... (expected `insecure-password` for clear text)")
					continue
				}
				u.Password = args[2]
				if userlist.KindOf(u.Password) == userlist.KindUnknown {
					d.warnf(l, "unsupported password hash %q (appl checks $5$ and $6$ SHA-crypt, $2a$/$2b$/$2y$ bcrypt and insecure-password; this user cannot log in)", userlist.KindName(u.Password))
				}
			case "insecure-password":
				u.Password, u.Insecure = args[2], true
			default:
				d.errorf(l, "unknown password kind %q (expected password or insecure-password)", args[1])
				continue
			}
			rest := args[3:]
			if len(rest) == 2 && rest[0] == "groups" {
				u.Groups = splitList(rest[1])
			} else if len(rest) > 0 {
				d.errorf(l, "unexpected %q (expected groups G,...)", strings.Join(rest, " "))
				continue
			}
			if slices.ContainsFunc(ul.Users, func(x User) bool { return x.Name == u.Name }) {
				d.errorf(l, "user %q declared twice", u.Name)
				continue
			}
			ul.Users = append(ul.Users, u)
		default:
			if s := closest(l.Keyword(), []string{"user", "group"}); s != "" {
				d.errorf(l, "unknown keyword in userlist section (did you mean %q?)", s)
			} else {
				d.errorf(l, "unknown keyword in userlist section (expected user or group)")
			}
		}
	}
	// A user's `groups` and a group's `users` both define membership; a name used on
	// either side must be declared (HAProxy refuses unknown groups too).
	for _, u := range ul.Users {
		for _, g := range u.Groups {
			if !declared[g] {
				d.errs = append(d.errs, &cfgfile.Error{Pos: s.Pos, Directive: "user", Msg: "user " + u.Name + " is in undeclared group " + g + " (expected a `group " + g + "` line)"})
				continue
			}
			if !slices.Contains(ul.Groups[g], u.Name) {
				ul.Groups[g] = append(ul.Groups[g], u.Name)
			}
		}
	}
	d.cfg.Userlists = append(d.cfg.Userlists, ul)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// InGroup says whether user belongs to group (acl.Userlist).
func (u *Userlist) InGroup(user, group string) bool {
	return slices.Contains(u.Groups[group], user)
}

// Authenticate says whether password is the user's (acl.Userlist), through the one
// password check of appl (proxy/userlist): clear text for insecure-password, SHA-crypt
// ($5$, $6$) or bcrypt for password. Other crypt(3) formats (MD5 $1$, DES, yescrypt)
// never match; decoding warned about them.
func (u *Userlist) Authenticate(user, password string) bool {
	for _, x := range u.Users {
		if x.Name == user {
			return userlist.Check(password, x.Password, x.Insecure)
		}
	}
	return false
}
