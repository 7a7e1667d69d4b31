"""Store overview: what has been collected, per object type and activity."""

import streamlit as st

from metrics.overview import activity_counts, object_counts, sync_attempt_count
from throughline.ui import engine, freshness_caption

st.title("Store overview")
freshness_caption()
objects = object_counts(engine())
if objects.empty:
    st.info("Nothing has been collected yet. Start the worker or run `throughline collect`.")
    st.stop()
left, right = st.columns(2)
left.metric("Objects", f"{int(objects['objects'].sum()):,}")
right.metric("Sync attempts", f"{sync_attempt_count(engine()):,}")
st.subheader("Objects by type")
st.dataframe(objects, hide_index=True, width="stretch")
st.subheader("Events by activity")
st.dataframe(activity_counts(engine()), hide_index=True, width="stretch")
