namespace AnomalyActors.Detection.Rcf;

/// <summary>
/// A streaming robust random cut forest (Guha et al., ICML 2016) over points of fixed dimension. Every tree
/// keeps its own time-decayed reservoir sample. Deterministic for a seed; no allocation per point.
/// </summary>
public sealed class RandomCutForest
{
    private readonly RcfTree[] _trees;
    private readonly double[] _scratchHigh;
    private readonly double[] _scratchLow;
    private long _updates;

    public RandomCutForest(int dimensions, int trees = 50, int sampleSize = 256, double? timeDecay = null, ulong seed = 42)
    {
        if (dimensions < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(dimensions), dimensions, "Points need at least one dimension.");
        }

        if (trees < 1 || sampleSize < 4)
        {
            throw new ArgumentOutOfRangeException(nameof(trees), "Need at least one tree and a sample of at least 4.");
        }

        Dimensions = dimensions;
        var decay = timeDecay ?? 1.0 / (10.0 * sampleSize);
        _trees = new RcfTree[trees];
        var seeder = new RcfRandom(seed);
        for (var i = 0; i < trees; i++)
        {
            _trees[i] = new RcfTree(dimensions, sampleSize, decay, seeder.NextULong());
        }

        _scratchHigh = new double[dimensions];
        _scratchLow = new double[dimensions];
    }

    public int Dimensions { get; }

    /// <summary>Points offered to the forest so far.</summary>
    public long Updates => _updates;

    /// <summary>Mean over trees of the tree score (about 1 for ordinary points, larger for unusual ones).</summary>
    public double Score(ReadOnlySpan<double> point)
    {
        CheckDimensions(point);
        // Trees are scored in pairs (see RcfTree.ScorePair) but summed one by one in tree order, so the sum is
        // the same bits as a plain loop.
        var sum = 0.0;
        var t = 0;
        for (; t + 1 < _trees.Length; t += 2)
        {
            RcfTree.ScorePair(_trees[t], _trees[t + 1], point, out var a, out var b);
            sum += a;
            sum += b;
        }

        if (t < _trees.Length)
        {
            sum += _trees[t].Score(point);
        }

        return sum / _trees.Length;
    }

    /// <summary>The score split into per-dimension high and low parts (their total equals <see cref="Score"/>).</summary>
    public void Attribution(ReadOnlySpan<double> point, Span<double> high, Span<double> low)
    {
        CheckDimensions(point);
        if (high.Length != Dimensions || low.Length != Dimensions)
        {
            throw new ArgumentException($"Attribution spans must have {Dimensions} elements.");
        }

        high.Clear();
        low.Clear();
        foreach (var tree in _trees)
        {
            tree.Attribution(point, high, low, _scratchHigh, _scratchLow);
        }

        for (var k = 0; k < Dimensions; k++)
        {
            high[k] /= _trees.Length;
            low[k] /= _trees.Length;
        }
    }

    public void Update(ReadOnlySpan<double> point)
    {
        CheckDimensions(point);
        var sequence = _updates++;
        foreach (var tree in _trees)
        {
            tree.Update(point, sequence);
        }
    }

    private void CheckDimensions(ReadOnlySpan<double> point)
    {
        if (point.Length != Dimensions)
        {
            throw new ArgumentException($"Expected a point of {Dimensions} dimensions, got {point.Length}.", nameof(point));
        }
    }

    public void WriteState(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(_updates);
        foreach (var tree in _trees)
        {
            tree.Write(writer);
        }
    }

    public void ReadState(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        _updates = reader.ReadInt64();
        foreach (var tree in _trees)
        {
            tree.Read(reader);
        }
    }
}
