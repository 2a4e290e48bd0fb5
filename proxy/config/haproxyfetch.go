package config

import (
	"regexp"
	"strings"
)

// HAProxy's sample fetches and converters (configuration manual, sections 7.3), used to
// tell an ACL or expression naming a real HAProxy fetch that appl lacks ("unsupported",
// a warning or an unsupported-class error) from a typo (an error). proxy/acl owns what
// appl implements; this list only names what exists in HAProxy.
var haproxyFetches = set(
	"always_false", "always_true", "avg_queue", "be_conn", "be_conn_free", "be_id",
	"be_name", "be_server_timeout", "be_sess_rate", "be_tunnel_timeout", "bin", "bool",
	"connslots", "cpu_calls", "cpu_ns_avg", "cpu_ns_tot", "date", "date_us", "env",
	"fe_client_timeout", "fe_conn", "fe_defbe", "fe_id", "fe_name", "fe_req_rate",
	"fe_sess_rate", "hostname", "int", "ipv4", "ipv6", "last_rule_file", "last_rule_line",
	"lat_ns_avg", "lat_ns_tot", "meth", "nbproc", "nbsrv", "prio_class", "prio_offset",
	"proc", "queue", "quic_enabled", "rand", "srv_conn", "srv_conn_free", "srv_is_up",
	"srv_iweight", "srv_queue", "srv_sess_rate", "srv_uweight", "srv_weight", "stopping",
	"str", "table_avl", "table_cnt", "thread", "txn.id32", "txn.conn_retries", "uuid",
	"var", "acl", "src", "src_port", "dst", "dst_port", "dst_conn", "dst_is_local",
	"src_is_local", "so_id", "so_name", "req.len", "req_len", "req.payload",
	"req.payload_lv", "req.proto_http", "req_proto_http", "req.rdp_cookie",
	"req_rdp_cookie", "req.rdp_cookie_cnt", "req_rdp_cookie_cnt", "req.ssl_alpn",
	"req.ssl_ec_ext", "req.ssl_hello_type", "req_ssl_hello_type", "req.ssl_sni",
	"req_ssl_sni", "req.ssl_st_ext", "req.ssl_ver", "req_ssl_ver", "res.len",
	"res.payload", "res.payload_lv", "res.ssl_hello_type", "rep_ssl_hello_type",
	"wait_end", "distcc_body", "distcc_param", "base", "base32", "base32+src", "baseq",
	"capture.req.hdr", "capture.req.method", "capture.req.uri", "capture.req.ver",
	"capture.res.hdr", "capture.res.ver", "cook", "cookie", "cook_cnt", "cook_val",
	"hdr", "hdr_cnt", "hdr_ip", "hdr_val", "http_auth", "http_auth_bearer",
	"http_auth_group", "http_auth_pass", "http_auth_type", "http_auth_user",
	"http_first_req", "method", "path", "pathq", "query", "req.body", "req.body_len",
	"req.body_param", "req.body_size", "req.cook", "req.cook_cnt", "req.cook_val",
	"req.cook_names", "req.fhdr", "req.fhdr_cnt", "req.hdr", "req.hdr_cnt", "req.hdr_ip",
	"req.hdr_names", "req.hdr_val", "req.ver", "req_ver", "req.timer.hdr",
	"req.timer.idle", "req.timer.queue", "req.timer.tq", "res.comp", "res.comp_algo",
	"res.cook", "res.cook_cnt", "res.cook_val", "res.cook_names", "res.fhdr",
	"res.fhdr_cnt", "res.hdr", "res.hdr_cnt", "res.hdr_ip", "res.hdr_names",
	"res.hdr_val", "res.ver", "resp_ver", "set-cookie", "shdr", "status", "txn.status",
	"txn.timer.total", "txn.timer.user", "unique-id", "url", "url_ip", "url_port",
	"url_param", "urlp", "urlp_val", "url32", "url32+src", "scook", "scook_cnt",
	"scook_val", "path_beg", "path_dir", "path_dom", "path_end", "path_len", "path_reg",
	"path_sub", "url_beg", "url_dir", "url_dom", "url_end", "url_len", "url_reg",
	"url_sub", "urlp_beg", "urlp_dir", "urlp_dom", "urlp_end", "urlp_len", "urlp_reg",
	"urlp_sub", "hdr_beg", "hdr_dir", "hdr_dom", "hdr_end", "hdr_len", "hdr_reg",
	"hdr_sub", "cook_beg", "cook_dir", "cook_dom", "cook_end", "cook_len", "cook_reg",
	"cook_sub", "base_beg", "base_dir", "base_dom", "base_end", "base_len", "base_reg",
	"base_sub", "req_ssl_sni", "ssl_fc", "ssl_fc_sni", "ssl_c_used", "ssl_fc_alpn",
	"ssl_fc_protocol", "ssl_fc_cipher", "ssl_c_verify", "ssl_c_s_dn", "ssl_c_i_dn",
	"ssl_fc_has_crt", "ssl_fc_has_sni", "ssl_bc", "ssl_f_sha1", "lua", "bc_src",
	"bc_dst", "fc_src", "fc_dst", "fc_rtt", "fc_rttvar", "fc_http_major", "bc_http_major",
	"fc_pp_unique_id", "fc_pp_authority", "fc.timer.handshake", "fc_err", "bc_err",
	"req.cook_names", "http_req_rate", "sc_http_req_rate",
)

// Families of fetches named by prefix (stick counters, tables, TLS, connections).
var haproxyFetchPrefixes = []string{"sc_", "sc0_", "sc1_", "sc2_", "src_", "table_",
	"ssl_", "fc_", "bc_", "fs.", "bs.", "lua.", "51d.", "da-", "wurfl-", "quic_", "req.",
	"res.", "txn.", "sess.", "var("}

var haproxyConverters = set("add", "add_item", "aes_gcm_dec", "aes_gcm_enc", "and",
	"b64dec", "base64", "be2dec", "be2hex", "bool", "bytes", "concat", "cpl", "crc32",
	"crc32c", "cut_crlf", "da-csv-conv", "debug", "digest", "div", "djb2", "even",
	"field", "fix_is_valid", "fix_tag_value", "hex", "hex2i", "hmac", "host_only",
	"htonl", "http_date", "in_table", "ipmask", "json", "json_query", "jwt_header_query",
	"jwt_payload_query", "jwt_verify", "language", "length", "lower", "ltime", "ltrim",
	"map", "mod", "mul", "nbsrv", "neg", "not", "odd", "or", "param", "port_only",
	"protobuf", "regsub", "rtrim", "sdbm", "secure_memcmp", "set-var", "sha1", "sha2",
	"srv_queue", "strcmp", "sub", "ub64dec", "ub64enc", "ungrpc", "unset-var", "upper",
	"url_dec", "url_enc", "us_ltime", "us_utime", "utime", "word", "wt6", "xor",
	"x509_v_err_str", "xxh3", "xxh32", "xxh64", "le2dec", "ms_ltime", "ms_utime",
	"iif", "capture-req", "capture-res", "sha2", "when", "date")

var haproxyConverterPrefixes = []string{"map", "table_", "mqtt_", "51d.", "sc_", "set-var"}

var unknownNameRe = regexp.MustCompile(`unknown (fetch|converter) "([^"]+)"`)

// unsupportedSample returns "fetch NAME"/"converter NAME" when msg reports an unknown
// fetch or converter that HAProxy has, "" otherwise.
func unsupportedSample(msg string) string {
	m := unknownNameRe.FindStringSubmatch(msg)
	if m == nil {
		return ""
	}
	kind, name := m[1], m[2]
	known := false
	if kind == "fetch" {
		known = haproxyFetches[name]
		for _, p := range haproxyFetchPrefixes {
			known = known || strings.HasPrefix(name, p)
		}
	} else {
		known = haproxyConverters[name]
		for _, p := range haproxyConverterPrefixes {
			known = known || strings.HasPrefix(name, p)
		}
	}
	if !known {
		return ""
	}
	return kind + " " + name
}
