// Code generated from the `show stat` header of HAProxy 2.6.12; DO NOT EDIT.
// (Moved from proxy/runtime, which aliases these names.)

package stats

// Stat columns, in the order of HAProxy 2.6's `show stat` CSV header.
const (
	ColPxname Col = iota
	ColSvname
	ColQcur
	ColQmax
	ColScur
	ColSmax
	ColSlim
	ColStot
	ColBin
	ColBout
	ColDreq
	ColDresp
	ColEreq
	ColEcon
	ColEresp
	ColWretr
	ColWredis
	ColStatus
	ColWeight
	ColAct
	ColBck
	ColChkfail
	ColChkdown
	ColLastchg
	ColDowntime
	ColQlimit
	ColPid
	ColIid
	ColSid
	ColThrottle
	ColLbtot
	ColTracked
	ColType
	ColRate
	ColRateLim
	ColRateMax
	ColCheckStatus
	ColCheckCode
	ColCheckDuration
	ColHrsp1xx
	ColHrsp2xx
	ColHrsp3xx
	ColHrsp4xx
	ColHrsp5xx
	ColHrspOther
	ColHanafail
	ColReqRate
	ColReqRateMax
	ColReqTot
	ColCliAbrt
	ColSrvAbrt
	ColCompIn
	ColCompOut
	ColCompByp
	ColCompRsp
	ColLastsess
	ColLastChk
	ColLastAgt
	ColQtime
	ColCtime
	ColRtime
	ColTtime
	ColAgentStatus
	ColAgentCode
	ColAgentDuration
	ColCheckDesc
	ColAgentDesc
	ColCheckRise
	ColCheckFall
	ColCheckHealth
	ColAgentRise
	ColAgentFall
	ColAgentHealth
	ColAddr
	ColCookie
	ColMode
	ColAlgo
	ColConnRate
	ColConnRateMax
	ColConnTot
	ColIntercepted
	ColDcon
	ColDses
	ColWrew
	ColConnect
	ColReuse
	ColCacheLookups
	ColCacheHits
	ColSrvIcur
	ColSrcIlim
	ColQtimeMax
	ColCtimeMax
	ColRtimeMax
	ColTtimeMax
	ColEint
	ColIdleConnCur
	ColSafeConnCur
	ColUsedConnCur
	ColNeedConnEst
	ColUweight
	ColAggServerStatus
	ColAggServerCheckStatus
	ColAggCheckStatus
	ColModules // "-": separates the generic columns from the per-module ones
	ColSslSess
	ColSslReusedSess
	ColSslFailedHandshake
	ColH2HeadersRcvd
	ColH2DataRcvd
	ColH2SettingsRcvd
	ColH2RstStreamRcvd
	ColH2GoawayRcvd
	ColH2DetectedConnProtocolErrors
	ColH2DetectedStrmProtocolErrors
	ColH2RstStreamResp
	ColH2GoawayResp
	ColH2OpenConnections
	ColH2BackendOpenStreams
	ColH2TotalConnections
	ColH2BackendTotalStreams
	ColH1OpenConnections
	ColH1OpenStreams
	ColH1TotalConnections
	ColH1TotalStreams
	ColH1BytesIn
	ColH1BytesOut
	ColH1SplicedBytesIn
	ColH1SplicedBytesOut
	NumCols // number of columns
)

// ColumnNames are the CSV header names, indexed by Col.
var ColumnNames = [NumCols]string{
	ColPxname:                       "pxname",
	ColSvname:                       "svname",
	ColQcur:                         "qcur",
	ColQmax:                         "qmax",
	ColScur:                         "scur",
	ColSmax:                         "smax",
	ColSlim:                         "slim",
	ColStot:                         "stot",
	ColBin:                          "bin",
	ColBout:                         "bout",
	ColDreq:                         "dreq",
	ColDresp:                        "dresp",
	ColEreq:                         "ereq",
	ColEcon:                         "econ",
	ColEresp:                        "eresp",
	ColWretr:                        "wretr",
	ColWredis:                       "wredis",
	ColStatus:                       "status",
	ColWeight:                       "weight",
	ColAct:                          "act",
	ColBck:                          "bck",
	ColChkfail:                      "chkfail",
	ColChkdown:                      "chkdown",
	ColLastchg:                      "lastchg",
	ColDowntime:                     "downtime",
	ColQlimit:                       "qlimit",
	ColPid:                          "pid",
	ColIid:                          "iid",
	ColSid:                          "sid",
	ColThrottle:                     "throttle",
	ColLbtot:                        "lbtot",
	ColTracked:                      "tracked",
	ColType:                         "type",
	ColRate:                         "rate",
	ColRateLim:                      "rate_lim",
	ColRateMax:                      "rate_max",
	ColCheckStatus:                  "check_status",
	ColCheckCode:                    "check_code",
	ColCheckDuration:                "check_duration",
	ColHrsp1xx:                      "hrsp_1xx",
	ColHrsp2xx:                      "hrsp_2xx",
	ColHrsp3xx:                      "hrsp_3xx",
	ColHrsp4xx:                      "hrsp_4xx",
	ColHrsp5xx:                      "hrsp_5xx",
	ColHrspOther:                    "hrsp_other",
	ColHanafail:                     "hanafail",
	ColReqRate:                      "req_rate",
	ColReqRateMax:                   "req_rate_max",
	ColReqTot:                       "req_tot",
	ColCliAbrt:                      "cli_abrt",
	ColSrvAbrt:                      "srv_abrt",
	ColCompIn:                       "comp_in",
	ColCompOut:                      "comp_out",
	ColCompByp:                      "comp_byp",
	ColCompRsp:                      "comp_rsp",
	ColLastsess:                     "lastsess",
	ColLastChk:                      "last_chk",
	ColLastAgt:                      "last_agt",
	ColQtime:                        "qtime",
	ColCtime:                        "ctime",
	ColRtime:                        "rtime",
	ColTtime:                        "ttime",
	ColAgentStatus:                  "agent_status",
	ColAgentCode:                    "agent_code",
	ColAgentDuration:                "agent_duration",
	ColCheckDesc:                    "check_desc",
	ColAgentDesc:                    "agent_desc",
	ColCheckRise:                    "check_rise",
	ColCheckFall:                    "check_fall",
	ColCheckHealth:                  "check_health",
	ColAgentRise:                    "agent_rise",
	ColAgentFall:                    "agent_fall",
	ColAgentHealth:                  "agent_health",
	ColAddr:                         "addr",
	ColCookie:                       "cookie",
	ColMode:                         "mode",
	ColAlgo:                         "algo",
	ColConnRate:                     "conn_rate",
	ColConnRateMax:                  "conn_rate_max",
	ColConnTot:                      "conn_tot",
	ColIntercepted:                  "intercepted",
	ColDcon:                         "dcon",
	ColDses:                         "dses",
	ColWrew:                         "wrew",
	ColConnect:                      "connect",
	ColReuse:                        "reuse",
	ColCacheLookups:                 "cache_lookups",
	ColCacheHits:                    "cache_hits",
	ColSrvIcur:                      "srv_icur",
	ColSrcIlim:                      "src_ilim",
	ColQtimeMax:                     "qtime_max",
	ColCtimeMax:                     "ctime_max",
	ColRtimeMax:                     "rtime_max",
	ColTtimeMax:                     "ttime_max",
	ColEint:                         "eint",
	ColIdleConnCur:                  "idle_conn_cur",
	ColSafeConnCur:                  "safe_conn_cur",
	ColUsedConnCur:                  "used_conn_cur",
	ColNeedConnEst:                  "need_conn_est",
	ColUweight:                      "uweight",
	ColAggServerStatus:              "agg_server_status",
	ColAggServerCheckStatus:         "agg_server_check_status",
	ColAggCheckStatus:               "agg_check_status",
	ColModules:                      "-",
	ColSslSess:                      "ssl_sess",
	ColSslReusedSess:                "ssl_reused_sess",
	ColSslFailedHandshake:           "ssl_failed_handshake",
	ColH2HeadersRcvd:                "h2_headers_rcvd",
	ColH2DataRcvd:                   "h2_data_rcvd",
	ColH2SettingsRcvd:               "h2_settings_rcvd",
	ColH2RstStreamRcvd:              "h2_rst_stream_rcvd",
	ColH2GoawayRcvd:                 "h2_goaway_rcvd",
	ColH2DetectedConnProtocolErrors: "h2_detected_conn_protocol_errors",
	ColH2DetectedStrmProtocolErrors: "h2_detected_strm_protocol_errors",
	ColH2RstStreamResp:              "h2_rst_stream_resp",
	ColH2GoawayResp:                 "h2_goaway_resp",
	ColH2OpenConnections:            "h2_open_connections",
	ColH2BackendOpenStreams:         "h2_backend_open_streams",
	ColH2TotalConnections:           "h2_total_connections",
	ColH2BackendTotalStreams:        "h2_backend_total_streams",
	ColH1OpenConnections:            "h1_open_connections",
	ColH1OpenStreams:                "h1_open_streams",
	ColH1TotalConnections:           "h1_total_connections",
	ColH1TotalStreams:               "h1_total_streams",
	ColH1BytesIn:                    "h1_bytes_in",
	ColH1BytesOut:                   "h1_bytes_out",
	ColH1SplicedBytesIn:             "h1_spliced_bytes_in",
	ColH1SplicedBytesOut:            "h1_spliced_bytes_out",
}
