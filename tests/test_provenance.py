"""How a run's recorded environment is named in the reports."""

from mnist_lab.core.provenance import backend_label, machine_label, trained_in

NEW_RUN = {
    "device": "CPU (2 cores)",
    "cpu": {"model": "AMD EPYC", "features": ["avx2", "avx512f"]},
    "cpu_count": 2,
    "backend": "tensorflow",
    "tensorflow": "2.21.0",
}


def test_a_cpu_run_is_named_by_its_cpu_model_and_features():
    assert machine_label(NEW_RUN) == "AMD EPYC, 2 cores (avx2, avx512f)"
    assert machine_label({**NEW_RUN, "cpu": {"model": "Xeon", "features": []}}) == "Xeon, 2 cores"


def test_older_runs_and_accelerators_keep_their_device_name():
    assert machine_label({"device": "CPU (2 cores)"}) == "CPU model not recorded (2 cores)"
    assert machine_label({**NEW_RUN, "device": "NVIDIA H100 80GB HBM3"}) == "NVIDIA H100 80GB HBM3"
    assert machine_label({}) == "?"


def test_backend_label_names_the_backend_and_its_version():
    assert backend_label(NEW_RUN) == "tensorflow 2.21.0"
    assert backend_label({"backend": "jax"}) == "jax"
    assert backend_label({}) == "?"


def test_a_run_resumed_on_another_machine_names_every_session_s_environment():
    jax_gpu = {"device": "NVIDIA H100 80GB HBM3", "backend": "jax", "jax": "0.7.0"}
    sessions = [{"from_epoch": 1, "environment": NEW_RUN}, {"from_epoch": 31, "environment": jax_gpu}]
    assert trained_in({"environment": jax_gpu, "sessions": sessions}) == [NEW_RUN, jax_gpu]
    # Epochs from a checkpoint that predates sessions trained somewhere unrecorded: not guessed.
    unrecorded = [{"from_epoch": 1, "environment": None}, {"from_epoch": 33, "environment": NEW_RUN}]
    assert trained_in({"environment": NEW_RUN, "sessions": unrecorded}) == [NEW_RUN]
    assert trained_in({"environment": NEW_RUN}) == [NEW_RUN]  # runs that predate sessions
