//! Network and identity material: addresses with their ASNs, client software, payment instruments,
//! e-mail domains and countries.

use rand::Rng;
use rand::seq::IndexedRandom;
use xxhash_rust::xxh3::{xxh3_64, xxh3_128_with_seed};

/// A client address as the edge sees it.
#[derive(Debug, Clone)]
pub(crate) struct Addr {
    pub ip: String,
    pub asn: u32,
}

/// A consumer ISP: its ASN, the first octets of its IPv4 space and an IPv6 prefix.
pub(crate) struct Isp {
    pub asn: u32,
    pub v4: &'static [u8],
    pub v6: &'static str,
}

pub(crate) struct Country {
    pub code: &'static str,
    /// UTC offsets in minutes that accounts of this country live in.
    pub tz_min: &'static [i32],
    pub weight: u32,
    pub isps: &'static [Isp],
    pub tld: &'static str,
}

macro_rules! isp {
    ($asn:expr, [$($o:expr),*], $v6:expr) => {
        Isp { asn: $asn, v4: &[$($o),*], v6: $v6 }
    };
}

pub(crate) static COUNTRIES: &[Country] = &[
    Country {
        code: "US",
        tz_min: &[-300, -360, -420, -480],
        weight: 30,
        isps: &[
            isp!(7922, [24, 67, 73, 98], "2601:"),
            isp!(7018, [99, 107, 108], "2600:1700:"),
            isp!(701, [71, 72, 96, 100], "2600:4040:"),
            isp!(20115, [47, 66, 174], "2600:6c5e:"),
            isp!(22773, [68, 70, 184], "2600:8801:"),
        ],
        tld: "com",
    },
    Country {
        code: "IN",
        tz_min: &[330],
        weight: 10,
        isps: &[
            isp!(24560, [49, 106, 122], "2401:4900:"),
            isp!(55836, [49, 115, 157], "2409:40c0:"),
        ],
        tld: "in",
    },
    Country {
        code: "GB",
        tz_min: &[0],
        weight: 7,
        isps: &[
            isp!(2856, [81, 86, 109], "2a00:23c5:"),
            isp!(5089, [82, 86, 94], "2a02:c7c:"),
        ],
        tld: "co.uk",
    },
    Country {
        code: "DE",
        tz_min: &[60],
        weight: 7,
        isps: &[
            isp!(3320, [79, 84, 87, 91, 93], "2003:"),
            isp!(3209, [88, 94, 178], "2a02:908:"),
        ],
        tld: "de",
    },
    Country {
        code: "FR",
        tz_min: &[60],
        weight: 5,
        isps: &[
            isp!(3215, [82, 86, 90, 92], "2a01:cb00:"),
            isp!(12322, [78, 82, 88], "2a01:e0a:"),
        ],
        tld: "fr",
    },
    Country {
        code: "BR",
        tz_min: &[-180],
        weight: 6,
        isps: &[
            isp!(28573, [177, 179, 189], "2804:14c:"),
            isp!(18881, [177, 186, 191], "2804:7f0:"),
        ],
        tld: "com.br",
    },
    Country {
        code: "JP",
        tz_min: &[540],
        weight: 5,
        isps: &[
            isp!(4713, [60, 114, 153], "240b:10:"),
            isp!(2516, [106, 111, 126], "2001:268:"),
        ],
        tld: "jp",
    },
    Country {
        code: "CA",
        tz_min: &[-300, -480],
        weight: 4,
        isps: &[
            isp!(812, [24, 99, 174], "2607:fea8:"),
            isp!(577, [70, 142, 184], "2607:fa48:"),
        ],
        tld: "ca",
    },
    Country {
        code: "AU",
        tz_min: &[600],
        weight: 3,
        isps: &[
            isp!(1221, [1, 101, 110], "2001:8003:"),
            isp!(4804, [49, 120, 211], "2401:d002:"),
        ],
        tld: "com.au",
    },
    Country {
        code: "ES",
        tz_min: &[60],
        weight: 3,
        isps: &[isp!(3352, [79, 83, 88], "2a0c:5a80:")],
        tld: "es",
    },
    Country {
        code: "PL",
        tz_min: &[60],
        weight: 3,
        isps: &[isp!(5617, [83, 89, 178], "2a01:110f:")],
        tld: "pl",
    },
    Country {
        code: "KR",
        tz_min: &[540],
        weight: 3,
        isps: &[isp!(4766, [59, 121, 211], "2001:2d8:")],
        tld: "kr",
    },
    Country {
        code: "ID",
        tz_min: &[420],
        weight: 3,
        isps: &[isp!(7713, [36, 110, 180], "2001:448a:")],
        tld: "co.id",
    },
    Country {
        code: "NG",
        tz_min: &[60],
        weight: 2,
        isps: &[isp!(29465, [102, 105, 197], "2c0f:f5c0:")],
        tld: "com.ng",
    },
    Country {
        code: "SG",
        tz_min: &[480],
        weight: 2,
        isps: &[isp!(9506, [116, 118, 175], "2406:3003:")],
        tld: "sg",
    },
];

pub(crate) fn country(code: &str) -> &'static Country {
    COUNTRIES
        .iter()
        .find(|c| c.code == code)
        .unwrap_or(&COUNTRIES[0])
}

pub(crate) fn pick_country<R: Rng>(rng: &mut R) -> &'static Country {
    COUNTRIES
        .choose_weighted(rng, |c| c.weight)
        .unwrap_or(&COUNTRIES[0])
}

pub(crate) fn pick_tz<R: Rng>(rng: &mut R, c: &Country) -> i32 {
    *c.tz_min.choose(rng).unwrap_or(&0)
}

/// A random consumer address of `c`: many /16s, sometimes IPv6.
pub(crate) fn residential<R: Rng>(rng: &mut R, c: &Country) -> Addr {
    let isp = c.isps.choose(rng).unwrap_or(&c.isps[0]);
    residential_of(rng, isp)
}

pub(crate) fn residential_of<R: Rng>(rng: &mut R, isp: &Isp) -> Addr {
    let ip = if rng.random_bool(0.22) {
        // Fill the prefix out to all eight groups.
        let mut groups: Vec<String> = isp
            .v6
            .split(':')
            .filter(|g| !g.is_empty())
            .map(String::from)
            .collect();
        groups.push(format!("{:x}", rng.random_range(0x1000..0xffffu32)));
        while groups.len() < 8 {
            groups.push(format!("{:x}", rng.random_range(0..0xffffu32)));
        }
        groups.join(":")
    } else {
        format!(
            "{}.{}.{}.{}",
            isp.v4.choose(rng).unwrap_or(&isp.v4[0]),
            rng.random_range(0..=255u32),
            rng.random_range(0..=255u32),
            rng.random_range(1..=254u32)
        )
    };
    Addr { ip, asn: isp.asn }
}

/// Hosting providers: ASN and /16s they announce.
pub(crate) struct Hosting {
    pub asn: u32,
    pub v4: &'static [(u8, u8)],
}

pub(crate) static HOSTING: &[Hosting] = &[
    Hosting {
        asn: 16509,
        v4: &[(3, 85), (18, 204), (52, 14), (54, 210)],
    },
    Hosting {
        asn: 14061,
        v4: &[(134, 209), (138, 68), (159, 89), (165, 227)],
    },
    Hosting {
        asn: 24940,
        v4: &[(88, 99), (95, 216), (116, 202), (135, 181)],
    },
    Hosting {
        asn: 20473,
        v4: &[(45, 32), (45, 76), (66, 42), (149, 28)],
    },
    Hosting {
        asn: 51167,
        v4: &[(38, 242), (161, 97), (173, 212), (207, 180)],
    },
    Hosting {
        asn: 9009,
        v4: &[(37, 120), (89, 238), (185, 156), (193, 27)],
    },
    Hosting {
        asn: 63949,
        v4: &[(45, 33), (139, 162), (172, 104), (192, 46)],
    },
    Hosting {
        asn: 212238,
        v4: &[(138, 199), (156, 146), (195, 181)],
    },
    Hosting {
        asn: 396982,
        v4: &[(34, 82), (35, 196), (104, 154)],
    },
];

/// A /24 in a known ASN.
#[derive(Debug, Clone)]
pub(crate) struct Subnet {
    pub prefix: String,
    pub asn: u32,
}

impl Subnet {
    pub fn host<R: Rng>(&self, rng: &mut R) -> Addr {
        Addr {
            ip: format!("{}.{}", self.prefix, rng.random_range(2..=250u32)),
            asn: self.asn,
        }
    }
    /// A fixed host, for egress gateways that always use the same address.
    pub fn fixed(&self, last: u8) -> Addr {
        Addr {
            ip: format!("{}.{}", self.prefix, last),
            asn: self.asn,
        }
    }
}

/// `n` /24s in one hosting provider.
pub(crate) fn hosting_pool<R: Rng>(rng: &mut R, provider: usize, n: usize) -> Vec<Subnet> {
    let h = &HOSTING[provider % HOSTING.len()];
    (0..n)
        .map(|_| {
            let (a, b) = *h.v4.choose(rng).unwrap_or(&h.v4[0]);
            Subnet {
                prefix: format!("{a}.{b}.{}", rng.random_range(0..=255u32)),
                asn: h.asn,
            }
        })
        .collect()
}

/// A /24 in a consumer or business ISP (campus, office).
pub(crate) fn isp_subnet<R: Rng>(rng: &mut R, asn: u32, first: u8) -> Subnet {
    Subnet {
        prefix: format!(
            "{first}.{}.{}",
            rng.random_range(0..=255u32),
            rng.random_range(0..=255u32)
        ),
        asn,
    }
}

/// Client software: its User-Agent and the TLS stack it really runs on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Client {
    pub ua: &'static str,
    pub stack: &'static str,
}

const fn c(ua: &'static str, stack: &'static str) -> Client {
    Client { ua, stack }
}

pub(crate) static BROWSERS: &[(Client, u32)] = &[
    (
        c(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36",
            "chrome",
        ),
        30,
    ),
    (
        c(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36",
            "chrome",
        ),
        12,
    ),
    (
        c(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/132.0.0.0 Safari/537.36 Edg/132.0.0.0",
            "chrome",
        ),
        7,
    ),
    (
        c(
            "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Mobile Safari/537.36",
            "chrome-android",
        ),
        9,
    ),
    (
        c(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.3 Mobile/15E148 Safari/604.1",
            "safari",
        ),
        12,
    ),
    (
        c(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.3 Safari/605.1.15",
            "safari",
        ),
        7,
    ),
    (
        c(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:135.0) Gecko/20100101 Firefox/135.0",
            "firefox",
        ),
        5,
    ),
    (
        c(
            "Mozilla/5.0 (X11; Linux x86_64; rv:135.0) Gecko/20100101 Firefox/135.0",
            "firefox",
        ),
        2,
    ),
    (
        c(
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            "chrome",
        ),
        2,
    ),
];

pub(crate) static SDKS: &[(Client, u32)] = &[
    (c("OpenAI/Python 1.61.1", "python-openssl3"), 22),
    (c("OpenAI/Python 1.54.4", "python-openssl3"), 8),
    (c("OpenAI/JS 4.85.1", "node"), 10),
    (c("Anthropic/Python 0.45.2", "python-openssl3"), 8),
    (c("python-requests/2.32.3", "python-openssl3"), 8),
    (c("python-httpx/0.28.1", "python-openssl3"), 5),
    (
        c(
            "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
            "node",
        ),
        4,
    ),
    (c("axios/1.7.9", "node"), 4),
    (c("curl/8.5.0", "curl"), 4),
    (
        c(
            "langchain-openai/0.3.3 OpenAI/Python 1.61.1",
            "python-openssl3",
        ),
        4,
    ),
    (c("Go-http-client/2.0", "go"), 2),
    (c("okhttp/4.12.0", "java"), 1),
];

pub(crate) const GATEWAY_LITELLM: Client = c("litellm/1.60.2", "python-openssl3");
pub(crate) const GATEWAY_GO: Client = c("Go-http-client/2.0", "go");

pub(crate) fn pick_client<R: Rng>(rng: &mut R, set: &'static [(Client, u32)]) -> Client {
    set.choose_weighted(rng, |x| x.1)
        .map(|x| x.0)
        .unwrap_or(set[0].0)
}

/// A JA4-shaped fingerprint: fixed per TLS stack, the way real client libraries present.
pub(crate) fn tls_fingerprint(stack: &str) -> String {
    let h = xxh3_64(stack.as_bytes());
    let alpn = if stack.starts_with("python") || stack == "curl" {
        "h1"
    } else {
        "h2"
    };
    let a = xxh3_128_with_seed(stack.as_bytes(), 1);
    let b = xxh3_128_with_seed(stack.as_bytes(), 2);
    format!(
        "t13d{:02}{:02}{alpn}_{:012x}_{:012x}",
        10 + h % 9,
        8 + (h >> 8) % 9,
        a & 0xffff_ffff_ffff,
        b & 0xffff_ffff_ffff
    )
}

/// Opaque hex hash standing for a payment instrument.
pub(crate) fn payment(seed: u64, label: &str) -> String {
    format!(
        "{:032x}",
        xxh3_128_with_seed(label.as_bytes(), seed ^ 0x7061_7931)
    )
}

static MAIL: &[(&str, u32)] = &[
    ("gmail.com", 48),
    ("outlook.com", 10),
    ("hotmail.com", 7),
    ("yahoo.com", 7),
    ("icloud.com", 8),
    ("proton.me", 3),
    ("gmx.de", 2),
    ("web.de", 2),
    ("yahoo.co.jp", 2),
    ("qq.com", 2),
    ("naver.com", 1),
    ("orange.fr", 1),
];

/// A popular free mail domain, or now and then the user's own.
pub(crate) fn consumer_email<R: Rng>(rng: &mut R, c: &Country) -> String {
    if rng.random_bool(0.12) {
        own_domain(rng, c.tld)
    } else {
        MAIL.choose_weighted(rng, |m| m.1)
            .map(|m| m.0)
            .unwrap_or("gmail.com")
            .to_string()
    }
}

pub(crate) fn free_email<R: Rng>(rng: &mut R) -> String {
    MAIL[..6]
        .choose_weighted(rng, |m| m.1)
        .map(|m| m.0)
        .unwrap_or("gmail.com")
        .to_string()
}

static DOMAIN_A: &[&str] = &[
    "bright", "north", "river", "oak", "silver", "blue", "green", "stone", "maple", "cedar",
    "lake", "sun", "iron", "harbor", "summit", "pine", "quartz", "amber", "delta", "nova",
];
static DOMAIN_B: &[&str] = &[
    "works",
    "labs",
    "studio",
    "design",
    "consulting",
    "media",
    "tech",
    "foods",
    "legal",
    "health",
    "logistics",
    "systems",
    "analytics",
    "partners",
    "digital",
    "cloud",
];

pub(crate) fn own_domain<R: Rng>(rng: &mut R, tld: &str) -> String {
    let a = DOMAIN_A.choose(rng).unwrap_or(&"oak");
    let b = DOMAIN_B.choose(rng).unwrap_or(&"works");
    let sep = if rng.random_bool(0.3) { "-" } else { "" };
    format!("{a}{sep}{b}.{tld}")
}

/// A company name and its domain, e.g. ("Cedar Analytics", "cedaranalytics.com").
pub(crate) fn company<R: Rng>(rng: &mut R, tld: &str) -> (String, String) {
    let a = DOMAIN_A.choose(rng).unwrap_or(&"oak");
    let b = DOMAIN_B.choose(rng).unwrap_or(&"works");
    let mut name = String::new();
    for (i, w) in [a, b].iter().enumerate() {
        if i > 0 {
            name.push(' ');
        }
        let mut ch = w.chars();
        if let Some(f) = ch.next() {
            name.extend(f.to_uppercase());
            name.push_str(ch.as_str());
        }
    }
    (name, format!("{a}{b}.{tld}"))
}
