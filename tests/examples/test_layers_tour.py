"""The layers tour runs end to end in a fast mode and prints one row per model."""




def test_layers_tour_fast(capsys, load_example):
    module = load_example("layers_tour")
    module.main(["--epochs", "1"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[0] == "model"
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert set(rows) == {"fully_shared", "modulation", "routing", "cross_stitch", "top_down"}
    # the modulated model has exactly 2 tasks x 8 channels more parameters than the shared one
    assert int(rows["modulation"][1]) - int(rows["fully_shared"][1]) == 16
