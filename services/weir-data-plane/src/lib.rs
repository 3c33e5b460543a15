//! weir-data-plane
