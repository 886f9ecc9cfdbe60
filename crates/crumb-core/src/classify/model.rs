//! The learned model: multinomial logistic regression over hashed features, trained by
//! `bench/classify/train.py` and embedded as `data/classifier.json` (int8 weights).

use std::sync::OnceLock;

use base64::Engine;
use serde::Deserialize;

use super::features::{BUCKETS, fnv1a};
use crate::inventory::Purpose;

static JSON: &str = include_str!("../../data/classifier.json");
static EMBEDDED: OnceLock<Model> = OnceLock::new();

/// The classes, in the order of the model's rows.
pub const CLASSES: [Purpose; 4] = [Purpose::Necessary, Purpose::Functional, Purpose::Analytics, Purpose::Marketing];

/// Why a model file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Not the JSON the training script writes.
    #[error("model file: {0}")]
    Json(#[from] serde_json::Error),
    /// The weights are not base64.
    #[error("model weights: {0}")]
    Base64(#[from] base64::DecodeError),
    /// Classes, bucket count or weight count do not fit.
    #[error("model layout: {0}")]
    Layout(String),
}

#[derive(Deserialize)]
struct File {
    format: String,
    classes: Vec<String>,
    buckets: usize,
    scale: f32,
    intercept: Vec<f32>,
    weights_i8_base64: String,
}

/// A loaded model.
#[derive(Debug, Clone)]
pub struct Model {
    scale: f32,
    intercept: [f32; 4],
    weights: Vec<i8>,
}

impl Model {
    /// Read a model file as `bench/classify/train.py` writes it.
    pub fn from_json(text: &str) -> Result<Model, ModelError> {
        let f: File = serde_json::from_str(text)?;
        let names: Vec<&str> = CLASSES.iter().map(|p| p.as_str()).collect();
        if f.format != "crumb-classifier-1" || f.classes != names || f.buckets != BUCKETS || f.intercept.len() != 4 {
            return Err(ModelError::Layout(format!(
                "expected crumb-classifier-1 with classes {names:?} and {BUCKETS} buckets"
            )));
        }
        let raw = base64::engine::general_purpose::STANDARD.decode(f.weights_i8_base64)?;
        if raw.len() != 4 * BUCKETS {
            return Err(ModelError::Layout(format!("{} weights, expected {}", raw.len(), 4 * BUCKETS)));
        }
        Ok(Model {
            scale: f.scale,
            intercept: [f.intercept[0], f.intercept[1], f.intercept[2], f.intercept[3]],
            weights: raw.into_iter().map(|b| b as i8).collect(),
        })
    }

    /// The model built into the binary.
    pub fn embedded() -> &'static Model {
        EMBEDDED.get_or_init(|| match Model::from_json(JSON) {
            Ok(m) => m,
            // The file is generated and checked in CI (`train.py --check`, and the tests
            // load it); a broken one is a build defect, not an input error.
            Err(e) => panic!("embedded classifier.json: {e}"),
        })
    }

    /// The score a feature adds to a class.
    fn weight(&self, class: usize, feature: &str) -> f32 {
        let k = fnv1a(feature) as usize % BUCKETS;
        f32::from(self.weights[class * BUCKETS + k]) * self.scale
    }

    /// Class probabilities (in [`CLASSES`] order) for a set of features.
    pub fn probabilities(&self, features: &[String]) -> [f32; 4] {
        let mut z = self.intercept;
        for f in features {
            for (c, zc) in z.iter_mut().enumerate() {
                *zc += self.weight(c, f);
            }
        }
        let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let e: Vec<f32> = z.iter().map(|v| (v - max).exp()).collect();
        let sum: f32 = e.iter().sum();
        [e[0] / sum, e[1] / sum, e[2] / sum, e[3] / sum]
    }

    /// The features that pushed hardest towards a class, strongest first.
    pub fn top_features(&self, features: &[String], class: usize, n: usize) -> Vec<(String, f32)> {
        let mut v: Vec<(String, f32)> = features
            .iter()
            .filter(|f| f.as_str() != "b")
            .map(|f| {
                let own = self.weight(class, f);
                let others = (0..4).filter(|c| *c != class).map(|c| self.weight(c, f)).sum::<f32>() / 3.0;
                (f.clone(), own - others)
            })
            .filter(|(_, w)| *w > 0.0)
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1));
        v.dedup_by(|a, b| a.0 == b.0);
        v.truncate(n);
        v
    }
}
