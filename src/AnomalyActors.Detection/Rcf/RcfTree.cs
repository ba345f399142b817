namespace AnomalyActors.Detection.Rcf;

/// <summary>
/// One random cut tree together with its time-decayed reservoir sample. Nodes live in preallocated
/// struct-of-arrays storage (internal nodes and leaves in separate pools with free lists), so updates and
/// scoring never allocate. Child links encode leaves as negative numbers: leaf <c>l</c> is <c>~l</c>.
/// </summary>
internal sealed class RcfTree
{
    private const int Null = int.MinValue;

    // Java RCF accepts every point until an eighth of the sample is filled, then ramps acceptance down;
    // following it keeps early scores comparable with the reference.
    private const double InitialAcceptFraction = 0.125;

    private readonly int _dim;
    private readonly int _capacity;
    private readonly double _timeDecay;
    private RcfRandom _random;

    // Internal nodes.
    private readonly int[] _left, _right, _parent, _cutDim, _mass;
    private readonly double[] _cutValue, _min, _max;
    private readonly int[] _freeNodes;
    private int _freeNodeCount;

    // Leaves: the distinct sampled points, with multiplicity.
    private readonly int[] _leafParent, _leafMass;
    private readonly double[] _leafPoint;
    private readonly int[] _freeLeaves;
    private int _freeLeafCount;

    private int _root = Null;

    // Sampler: a max-heap on weight of the sampled entries (smaller weight = more likely kept).
    private readonly double[] _weight;
    private readonly int[] _heapLeaf;
    private int _size;

    // Scratch for scoring paths; the deepest possible tree has one internal node per sampled point.
    private readonly int[] _path;

    public RcfTree(int dimensions, int capacity, double timeDecay, ulong seed)
    {
        _dim = dimensions;
        _capacity = capacity;
        _timeDecay = timeDecay;
        _random = new RcfRandom(seed);
        var nodes = capacity;
        _left = new int[nodes];
        _right = new int[nodes];
        _parent = new int[nodes];
        _cutDim = new int[nodes];
        _mass = new int[nodes];
        _cutValue = new double[nodes];
        _min = new double[nodes * dimensions];
        _max = new double[nodes * dimensions];
        _freeNodes = new int[nodes];
        _leafParent = new int[capacity];
        _leafMass = new int[capacity];
        _leafPoint = new double[capacity * dimensions];
        _freeLeaves = new int[capacity];
        _weight = new double[capacity];
        _heapLeaf = new int[capacity];
        _path = new int[capacity + 1];
        ResetFreeLists();
    }

    private void ResetFreeLists()
    {
        // Popped from the end, so slot 0 is used first: purely cosmetic, but keeps dumps readable.
        for (var i = 0; i < _capacity; i++)
        {
            _freeNodes[i] = _capacity - 1 - i;
            _freeLeaves[i] = _capacity - 1 - i;
        }

        _freeNodeCount = _capacity;
        _freeLeafCount = _capacity;
    }

    /// <summary>Sampled entries (counting duplicates).</summary>
    public int Mass => _root == Null ? 0 : _root < 0 ? _leafMass[~_root] : _mass[_root];

    /// <summary>Offers the point with its sequence index to the reservoir; on acceptance the tree changes.</summary>
    public void Update(ReadOnlySpan<double> point, long sequence)
    {
        var u = _random.NextDouble();
        while (u == 0)
        {
            u = _random.NextDouble();
        }

        // Exponential time decay: newer points get lower weights and survive longer; the Gumbel-style
        // log(-log u) term makes this a weighted reservoir sample.
        var weight = (-sequence * _timeDecay) + Math.Log(-Math.Log(u));
        var initial = _size < _capacity && _random.NextDouble() < InitialAcceptProbability(_size);
        if (!initial && !(_size > 0 && weight < _weight[0]))
        {
            return;
        }

        if (!initial)
        {
            var evicted = _heapLeaf[0];
            PopMax();
            Delete(evicted);
        }

        var leaf = Insert(point);
        Push(weight, leaf);
    }

    private double InitialAcceptProbability(int fill)
    {
        if (fill < InitialAcceptFraction * _capacity)
        {
            return 1.0;
        }

        return 1.0 - ((((double)fill / _capacity) - InitialAcceptFraction) / (1.0 - InitialAcceptFraction));
    }

    private void Push(double weight, int leaf)
    {
        var i = _size++;
        while (i > 0)
        {
            var p = (i - 1) >> 1;
            if (_weight[p] >= weight)
            {
                break;
            }

            _weight[i] = _weight[p];
            _heapLeaf[i] = _heapLeaf[p];
            i = p;
        }

        _weight[i] = weight;
        _heapLeaf[i] = leaf;
    }

    private void PopMax()
    {
        var last = --_size;
        var w = _weight[last];
        var leaf = _heapLeaf[last];
        var i = 0;
        while (true)
        {
            var c = (2 * i) + 1;
            if (c >= _size)
            {
                break;
            }

            if (c + 1 < _size && _weight[c + 1] > _weight[c])
            {
                c++;
            }

            if (_weight[c] <= w)
            {
                break;
            }

            _weight[i] = _weight[c];
            _heapLeaf[i] = _heapLeaf[c];
            i = c;
        }

        if (_size > 0)
        {
            _weight[i] = w;
            _heapLeaf[i] = leaf;
        }
    }

    private bool LeafEquals(int leaf, ReadOnlySpan<double> point)
    {
        var offset = leaf * _dim;
        for (var k = 0; k < _dim; k++)
        {
            if (_leafPoint[offset + k] != point[k])
            {
                return false;
            }
        }

        return true;
    }

    private int NewLeaf(ReadOnlySpan<double> point, int parent)
    {
        var leaf = _freeLeaves[--_freeLeafCount];
        point.CopyTo(_leafPoint.AsSpan(leaf * _dim, _dim));
        _leafMass[leaf] = 1;
        _leafParent[leaf] = parent;
        return leaf;
    }

    private void SetParent(int node, int parent)
    {
        if (node < 0)
        {
            _leafParent[~node] = parent;
        }
        else
        {
            _parent[node] = parent;
        }
    }

    private void ReplaceChild(int parent, int oldChild, int newChild)
    {
        if (parent == Null)
        {
            _root = newChild;
        }
        else if (_left[parent] == oldChild)
        {
            _left[parent] = newChild;
        }
        else
        {
            _right[parent] = newChild;
        }
    }

    private double BoxMin(int node, int k) => node < 0 ? _leafPoint[(~node * _dim) + k] : _min[(node * _dim) + k];

    private double BoxMax(int node, int k) => node < 0 ? _leafPoint[(~node * _dim) + k] : _max[(node * _dim) + k];

    /// <summary>Guha et al.'s insertion: descend while a random cut of the enlarged box falls inside the old box.</summary>
    private int Insert(ReadOnlySpan<double> point)
    {
        if (_root == Null)
        {
            var first = NewLeaf(point, Null);
            _root = ~first;
            return first;
        }

        var node = _root;
        var parent = Null;
        while (true)
        {
            if (node < 0 && LeafEquals(~node, point))
            {
                _leafMass[~node]++;
                return ~node;
            }

            var rangeSum = 0.0;
            for (var k = 0; k < _dim; k++)
            {
                rangeSum += Math.Max(BoxMax(node, k), point[k]) - Math.Min(BoxMin(node, k), point[k]);
            }

            var r = _random.NextDouble() * rangeSum;
            var dim = -1;
            var cut = 0.0;
            for (var k = 0; k < _dim; k++)
            {
                var lo = Math.Min(BoxMin(node, k), point[k]);
                var range = Math.Max(BoxMax(node, k), point[k]) - lo;
                if (range <= 0)
                {
                    continue;
                }

                dim = k;
                if (r < range)
                {
                    cut = lo + r;
                    break;
                }

                r -= range;
                cut = lo + range; // rounding can exhaust r; keep the last positive-range dimension
            }

            var separated = false;
            var pointLeft = false;
            if (dim >= 0)
            {
                var bmin = BoxMin(node, dim);
                var bmax = BoxMax(node, dim);
                if (point[dim] <= cut && cut < bmin)
                {
                    separated = true;
                    pointLeft = true;
                }
                else if (point[dim] > cut && cut >= bmax)
                {
                    separated = true;
                }
                else if (node < 0)
                {
                    // Rounding put the cut on the leaf's own value; cut between the two values instead.
                    cut = Math.Min(point[dim], bmin);
                    pointLeft = point[dim] <= cut;
                    separated = true;
                }
            }

            if (separated)
            {
                var inner = _freeNodes[--_freeNodeCount];
                var leaf = NewLeaf(point, inner);
                _cutDim[inner] = dim;
                _cutValue[inner] = cut;
                _left[inner] = pointLeft ? ~leaf : node;
                _right[inner] = pointLeft ? node : ~leaf;
                _parent[inner] = parent;
                _mass[inner] = (node < 0 ? _leafMass[~node] : _mass[node]) + 1;
                var o = inner * _dim;
                for (var k = 0; k < _dim; k++)
                {
                    _min[o + k] = Math.Min(BoxMin(node, k), point[k]);
                    _max[o + k] = Math.Max(BoxMax(node, k), point[k]);
                }

                ReplaceChild(parent, node, inner);
                SetParent(node, inner);
                return leaf;
            }

            // The point stays inside this subtree: it grows the box and the mass on its way down.
            var off = node * _dim;
            for (var k = 0; k < _dim; k++)
            {
                if (point[k] < _min[off + k])
                {
                    _min[off + k] = point[k];
                }

                if (point[k] > _max[off + k])
                {
                    _max[off + k] = point[k];
                }
            }

            _mass[node]++;
            parent = node;
            node = point[_cutDim[node]] <= _cutValue[node] ? _left[node] : _right[node];
        }
    }

    private void Delete(int leaf)
    {
        if (--_leafMass[leaf] > 0)
        {
            for (var n = _leafParent[leaf]; n != Null; n = _parent[n])
            {
                _mass[n]--;
            }

            return;
        }

        var parent = _leafParent[leaf];
        _freeLeaves[_freeLeafCount++] = leaf;
        if (parent == Null)
        {
            _root = Null;
            return;
        }

        var sibling = _left[parent] == ~leaf ? _right[parent] : _left[parent];
        var grand = _parent[parent];
        ReplaceChild(grand, parent, sibling);
        SetParent(sibling, grand);
        _freeNodes[_freeNodeCount++] = parent;

        var boxesSettled = false;
        for (var n = grand; n != Null; n = _parent[n])
        {
            _mass[n]--;
            if (boxesSettled)
            {
                continue;
            }

            var changed = false;
            var o = n * _dim;
            int l = _left[n], r = _right[n];
            for (var k = 0; k < _dim; k++)
            {
                var lo = Math.Min(BoxMin(l, k), BoxMin(r, k));
                var hi = Math.Max(BoxMax(l, k), BoxMax(r, k));
                if (lo != _min[o + k] || hi != _max[o + k])
                {
                    _min[o + k] = lo;
                    _max[o + k] = hi;
                    changed = true;
                }
            }

            // Boxes nest: once one stays the same, every box above it does too.
            boxesSettled = !changed;
        }
    }

    /// <summary>
    /// The displacement-style score of randomcutforest-java's AnomalyScoreVisitor: 1/(depth+1) at an unseen
    /// leaf, blended upwards with each ancestor's chance of isolating the point, scaled by log2(mass+1).
    /// </summary>
    public double Score(ReadOnlySpan<double> point)
    {
        if (_root == Null)
        {
            return 0;
        }

        var depth = 0;
        var node = _root;
        while (node >= 0)
        {
            _path[depth++] = node;
            node = point[_cutDim[node]] <= _cutValue[node] ? _left[node] : _right[node];
        }

        var treeMass = Mass;
        var leaf = ~node;
        double score;
        if (LeafEquals(leaf, point))
        {
            var m = _leafMass[leaf];
            var damp = 1.0 - (m / (2.0 * treeMass));
            score = damp / (depth + (Math.Log(m + 1.0) / Math.Log(2.0)));
            return score * Math.Log2(treeMass + 1.0);
        }

        score = 1.0 / (depth + 1);
        for (var d = depth - 1; d >= 0; d--)
        {
            var n = _path[d];
            var o = n * _dim;
            var newRange = 0.0;
            var grow = 0.0;
            for (var k = 0; k < _dim; k++)
            {
                var lo = _min[o + k];
                var hi = _max[o + k];
                var x = point[k];
                if (x < lo)
                {
                    grow += lo - x;
                    newRange += hi - x;
                }
                else if (x > hi)
                {
                    grow += x - hi;
                    newRange += x - lo;
                }
                else
                {
                    newRange += hi - lo;
                }
            }

            if (grow <= 0)
            {
                break; // inside this box, hence inside every box above it
            }

            var p = grow / newRange;
            score = (p / (d + 1)) + ((1 - p) * score);
        }

        return score * Math.Log2(treeMass + 1.0);
    }

    /// <summary>
    /// Adds this tree's score split by dimension and direction (high: the point lies above the box) to the
    /// accumulators; high plus low over all dimensions equals <see cref="Score"/>.
    /// </summary>
    public void Attribution(ReadOnlySpan<double> point, Span<double> high, Span<double> low, Span<double> scratchHigh, Span<double> scratchLow)
    {
        if (_root == Null)
        {
            return;
        }

        var depth = 0;
        var node = _root;
        while (node >= 0)
        {
            _path[depth++] = node;
            node = point[_cutDim[node]] <= _cutValue[node] ? _left[node] : _right[node];
        }

        var treeMass = Mass;
        var norm = Math.Log2(treeMass + 1.0);
        var leaf = ~node;
        if (LeafEquals(leaf, point))
        {
            // Nothing separates a point already in the sample: spread its (small) score evenly.
            var m = _leafMass[leaf];
            var s = (1.0 - (m / (2.0 * treeMass))) / (depth + (Math.Log(m + 1.0) / Math.Log(2.0))) * norm;
            for (var k = 0; k < _dim; k++)
            {
                high[k] += s / (2 * _dim);
                low[k] += s / (2 * _dim);
            }

            return;
        }

        // At an unseen leaf the separating cut falls between the point and the leaf's point.
        var lo0 = leaf * _dim;
        var total = 0.0;
        for (var k = 0; k < _dim; k++)
        {
            total += Math.Abs(point[k] - _leafPoint[lo0 + k]);
        }

        var baseScore = 1.0 / (depth + 1);
        for (var k = 0; k < _dim; k++)
        {
            var diff = point[k] - _leafPoint[lo0 + k];
            scratchHigh[k] = diff > 0 ? baseScore * diff / total : 0;
            scratchLow[k] = diff < 0 ? -baseScore * diff / total : 0;
        }

        for (var d = depth - 1; d >= 0; d--)
        {
            var o = _path[d] * _dim;
            var newRange = 0.0;
            for (var k = 0; k < _dim; k++)
            {
                newRange += Math.Max(_max[o + k], point[k]) - Math.Min(_min[o + k], point[k]);
            }

            var p = 0.0;
            for (var k = 0; k < _dim; k++)
            {
                p += Math.Max(0, point[k] - _max[o + k]) + Math.Max(0, _min[o + k] - point[k]);
            }

            if (p <= 0)
            {
                break;
            }

            var u = 1.0 / (d + 1);
            for (var k = 0; k < _dim; k++)
            {
                var ph = Math.Max(0, point[k] - _max[o + k]) / newRange;
                var pl = Math.Max(0, _min[o + k] - point[k]) / newRange;
                scratchHigh[k] = (ph * u) + ((1 - (p / newRange)) * scratchHigh[k]);
                scratchLow[k] = (pl * u) + ((1 - (p / newRange)) * scratchLow[k]);
            }
        }

        for (var k = 0; k < _dim; k++)
        {
            high[k] += scratchHigh[k] * norm;
            low[k] += scratchLow[k] * norm;
        }
    }

    public void Write(BinaryWriter w)
    {
        _random.Write(w);
        w.Write(_root);
        w.Write(_size);
        w.Write(_freeNodeCount);
        w.Write(_freeLeafCount);
        WriteInts(w, _left);
        WriteInts(w, _right);
        WriteInts(w, _parent);
        WriteInts(w, _cutDim);
        WriteInts(w, _mass);
        WriteInts(w, _freeNodes);
        WriteInts(w, _leafParent);
        WriteInts(w, _leafMass);
        WriteInts(w, _freeLeaves);
        WriteInts(w, _heapLeaf);
        WriteDoubles(w, _cutValue);
        WriteDoubles(w, _min);
        WriteDoubles(w, _max);
        WriteDoubles(w, _leafPoint);
        WriteDoubles(w, _weight);
    }

    public void Read(BinaryReader r)
    {
        _random.Read(r);
        _root = r.ReadInt32();
        _size = r.ReadInt32();
        _freeNodeCount = r.ReadInt32();
        _freeLeafCount = r.ReadInt32();
        ReadInts(r, _left);
        ReadInts(r, _right);
        ReadInts(r, _parent);
        ReadInts(r, _cutDim);
        ReadInts(r, _mass);
        ReadInts(r, _freeNodes);
        ReadInts(r, _leafParent);
        ReadInts(r, _leafMass);
        ReadInts(r, _freeLeaves);
        ReadInts(r, _heapLeaf);
        ReadDoubles(r, _cutValue);
        ReadDoubles(r, _min);
        ReadDoubles(r, _max);
        ReadDoubles(r, _leafPoint);
        ReadDoubles(r, _weight);
    }

    private static void WriteInts(BinaryWriter w, int[] a)
    {
        foreach (var x in a)
        {
            w.Write(x);
        }
    }

    private static void WriteDoubles(BinaryWriter w, double[] a)
    {
        foreach (var x in a)
        {
            w.Write(x);
        }
    }

    private static void ReadInts(BinaryReader r, int[] a)
    {
        for (var i = 0; i < a.Length; i++)
        {
            a[i] = r.ReadInt32();
        }
    }

    private static void ReadDoubles(BinaryReader r, double[] a)
    {
        for (var i = 0; i < a.Length; i++)
        {
            a[i] = r.ReadDouble();
        }
    }
}
