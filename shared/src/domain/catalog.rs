//! Plans and products. They are configuration (see `config`), with CONTRACT.md's defaults.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Product {
    pub id: String,
    pub name: String,
    pub category: String,
    pub estimated_duration: u32,
    pub maturity_min: u8,
    pub maturity_max: u8,
    pub maturity_default: u8,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Plan {
    pub id: String,
    /// Runs per month; `None` is unlimited (shown as -1).
    pub runs_per_month: Option<u32>,
    /// Product ids; `["*"]` is every product.
    pub products: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Catalog {
    pub plans: Vec<Plan>,
    pub products: Vec<Product>,
}

impl Default for Catalog {
    fn default() -> Self {
        let product = |id: &str, name: &str, category: &str, dur, min, max, def| Product {
            id: id.into(),
            name: name.into(),
            category: category.into(),
            estimated_duration: dur,
            maturity_min: min,
            maturity_max: max,
            maturity_default: def,
        };
        let plan = |id: &str, runs, products: &[&str]| Plan {
            id: id.into(),
            runs_per_month: runs,
            products: products.iter().map(|p| p.to_string()).collect(),
        };
        Catalog {
            plans: vec![
                plan("starter", Some(50), &["essential-eight"]),
                plan("professional", Some(200), &["essential-eight", "nist-csf", "cis-m365"]),
                plan("enterprise", None, &["*"]),
            ],
            products: vec![
                product("essential-eight", "Essential Eight Assessment", "compliance", 180, 1, 3, 1),
                product("nist-csf", "NIST CSF Assessment", "compliance", 240, 1, 4, 2),
                product("cis-m365", "CIS Microsoft 365 Benchmark", "benchmark", 200, 1, 2, 1),
            ],
        }
    }
}

impl Catalog {
    pub fn plan(&self, id: &str) -> Option<&Plan> {
        self.plans.iter().find(|p| p.id == id)
    }

    pub fn product(&self, id: &str) -> Option<&Product> {
        self.products.iter().find(|p| p.id == id)
    }

    pub fn plan_ids(&self) -> String {
        self.plans.iter().map(|p| p.id.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// The products a plan includes, in catalogue order.
    pub fn products_on(&self, plan: &Plan) -> Vec<&Product> {
        self.products.iter().filter(|p| plan.includes(&p.id)).collect()
    }

    /// Checks that every plan names only known products and every range is sane.
    pub fn validate(&self) -> Result<(), String> {
        for plan in &self.plans {
            for p in &plan.products {
                if p != "*" && self.product(p).is_none() {
                    return Err(format!("plan {} names unknown product {p}", plan.id));
                }
            }
        }
        for p in &self.products {
            if !(p.maturity_min <= p.maturity_default && p.maturity_default <= p.maturity_max) {
                return Err(format!("product {} has a default outside its maturity range", p.id));
            }
        }
        if self.plans.is_empty() {
            return Err("no plans".into());
        }
        Ok(())
    }
}

impl Plan {
    pub fn includes(&self, product: &str) -> bool {
        self.products.iter().any(|p| p == "*" || p == product)
    }

    /// The limit as responses show it: -1 for unlimited.
    pub fn runs_limit_shown(&self) -> i64 {
        self.runs_per_month.map_or(-1, i64::from)
    }
}
