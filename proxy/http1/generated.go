package http1

// StatusText returns the reason phrase appl uses for code (HAProxy's wording
// where HAProxy generates the status itself), or "" for an unknown code.
func StatusText(code int) string {
	switch code {
	case 100:
		return "Continue"
	case 101:
		return "Switching Protocols"
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 202:
		return "Accepted"
	case 204:
		return "No Content"
	case 206:
		return "Partial Content"
	case 301:
		return "Moved Permanently"
	case 302:
		return "Found"
	case 303:
		return "See Other"
	case 304:
		return "Not Modified"
	case 307:
		return "Temporary Redirect"
	case 308:
		return "Permanent Redirect"
	case 400:
		return "Bad request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 407:
		return "Proxy Authentication Required"
	case 408:
		return "Request Time-out"
	case 410:
		return "Gone"
	case 413:
		return "Payload Too Large"
	case 414:
		return "URI Too Long"
	case 421:
		return "Misdirected Request"
	case 425:
		return "Too Early"
	case 429:
		return "Too Many Requests"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Time-out"
	case 505:
		return "HTTP Version Not Supported"
	}
	return ""
}

// errorSentence is the body sentence of HAProxy's built-in error pages.
func errorSentence(code int) string {
	switch code {
	case 200:
		return "Service ready."
	case 400:
		return "Your browser sent an invalid request."
	case 401, 407:
		return "You need a valid user and password to access this content."
	case 403:
		return "Request forbidden by administrative rules."
	case 404:
		return "The resource could not be found."
	case 405:
		return "A request was made of a resource using a request method not supported by that resource"
	case 408:
		return "Your browser didn't send a complete request in time."
	case 410:
		return "The resource is no longer available and will not be available again."
	case 413:
		return "The request entity exceeds the maximum allowed."
	case 421:
		return "Request sent to a non-authoritative server."
	case 425:
		return "Your browser sent early data."
	case 429:
		return "You have sent too many requests in a given amount of time."
	case 500:
		return "An internal server error occurred."
	case 501:
		return "The server does not support the functionality required to fulfill the request."
	case 502:
		return "The server returned an invalid or incomplete response."
	case 503:
		return "No server is available to handle this request."
	case 504:
		return "The server didn't respond in time."
	case 505:
		return "The server does not support the HTTP version of the request."
	}
	return "An error occurred."
}

// AppendError appends a complete HAProxy-style response for status (400,
// 403, 404, 408, 429, 500, 502, 503, 504, ... and 200 for monitor-uri) to
// dst: HTML body, content-length, cache-control: no-cache, and
// "connection: close" for every error but 401/407. Status line and body
// are those of HAProxy 2.x's built-in pages.
func AppendError(dst []byte, status int) []byte {
	return appendPage(dst, status, nil, status >= 400 && status != 401 && status != 407)
}

// AppendAuthRequired appends a 401 asking for Basic credentials for realm
// (stats auth, http-request auth). Quotes and backslashes in realm are
// escaped; control characters are dropped.
func AppendAuthRequired(dst []byte, realm string) []byte {
	return appendPage(dst, 401, func(d []byte) []byte {
		d = append(d, "www-authenticate: Basic realm=\""...)
		for i := 0; i < len(realm); i++ {
			c := realm[i]
			switch {
			case c == '"' || c == '\\':
				d = append(d, '\\', c)
			case valueChar[c] && c != '\t':
				d = append(d, c)
			}
		}
		return append(d, "\"\r\n"...)
	}, false)
}

func appendPage(dst []byte, status int, extra func([]byte) []byte, close bool) []byte {
	reason := StatusText(status)
	if reason == "" {
		reason = "Error"
	}
	sentence := errorSentence(status)
	// body: <html><body><h1>CODE REASON</h1>\nSENTENCE\n</body></html>\n
	bodyLen := len("<html><body><h1>") + 4 + len(reason) + len("</h1>\n") + len(sentence) + 1 + len("</body></html>\n")
	dst = append(dst, "HTTP/1.1 "...)
	dst = appendInt(dst, int64(status))
	dst = append(dst, ' ')
	dst = append(dst, reason...)
	dst = append(dst, "\r\ncontent-length: "...)
	dst = appendInt(dst, int64(bodyLen))
	dst = append(dst, "\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n"...)
	if extra != nil {
		dst = extra(dst)
	}
	if close {
		dst = append(dst, "connection: close\r\n"...)
	}
	dst = append(dst, "\r\n<html><body><h1>"...)
	dst = appendInt(dst, int64(status))
	dst = append(dst, ' ')
	dst = append(dst, reason...)
	dst = append(dst, "</h1>\n"...)
	dst = append(dst, sentence...)
	dst = append(dst, "\n</body></html>\n"...)
	return dst
}

// AppendRedirect appends a redirect response (301, 302, 303, 307 or 308)
// with an empty body, as HAProxy's http-request redirect builds it.
// setCookie, when not empty, is sent as a Set-Cookie field; close adds
// "connection: close". It returns false, leaving dst unchanged, for another
// code or a location or cookie holding control characters (which would
// split the response).
func AppendRedirect(dst []byte, code int, location []byte, setCookie []byte, close bool) ([]byte, bool) {
	switch code {
	case 301, 302, 303, 307, 308:
	default:
		return dst, false
	}
	for _, c := range location {
		if !valueChar[c] || c == '\t' {
			return dst, false
		}
	}
	for _, c := range setCookie {
		if !valueChar[c] {
			return dst, false
		}
	}
	dst = append(dst, "HTTP/1.1 "...)
	dst = appendInt(dst, int64(code))
	dst = append(dst, ' ')
	dst = append(dst, StatusText(code)...)
	dst = append(dst, "\r\ncontent-length: 0\r\nlocation: "...)
	dst = append(dst, location...)
	dst = append(dst, "\r\ncache-control: no-cache\r\n"...)
	if len(setCookie) > 0 {
		dst = append(dst, "set-cookie: "...)
		dst = append(dst, setCookie...)
		dst = append(dst, '\r', '\n')
	}
	if close {
		dst = append(dst, "connection: close\r\n"...)
	}
	return append(dst, '\r', '\n'), true
}

// Continue is the interim response a proxy sends to a client that asked for
// Expect: 100-continue when it wants the body.
const Continue = "HTTP/1.1 100 Continue\r\n\r\n"
