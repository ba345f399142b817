using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

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

    // Internal nodes. Each node's bounding box is one run of 2 * dim doubles: the minima, then the maxima.
    // The fields a descent or a delete walk reads sit together in one 32-byte struct, two to a cache line.
    // Nodes, boxes and leaf points start on 64-byte boundaries (see AllocateAligned): with 50 trees of dimension 8
    // they outgrow the L2 cache, and an unaligned 128-byte box spans three cache lines instead of two.
    private readonly double[] _nodeData;
    private readonly int _nodeBase;
    private readonly double[] _box;
    private readonly int _boxBase;
    private readonly int _stride;
    private readonly int[] _freeNodes;
    private int _freeNodeCount;

    // Leaves: the distinct sampled points, with multiplicity.
    private readonly int[] _leafParent, _leafMass;
    private readonly double[] _leafPoint;
    private readonly int _leafBase;
    private readonly int[] _freeLeaves;
    private int _freeLeafCount;

    private int _root = Null;

    // Sampler: a max-heap on weight of the sampled entries (smaller weight = more likely kept).
    private readonly double[] _weight;
    private readonly int[] _heapLeaf;
    private int _size;

    // log2(mass + 1) for every possible tree mass: the score's scale, looked up instead of recomputed per
    // tree. The same for every tree of a capacity, so one table serves them all (per tree it was a
    // twelfth of a forest's memory).
    private readonly double[] _log2MassPlusOne;
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, double[]> Log2Tables = new();

    // Fast rejection in the sampler (see RejectBound); derived from the heap, never persisted.
    private const long BoundSpan = 64;
    private long _boundUntil = long.MinValue;
    private double _boundWeight = double.NaN;
    private double _rejectBelow;

    // Scratch for scoring paths; the deepest possible tree has one internal node per sampled point.
    private readonly int[] _path;

    // Scratch for one level of the vectorised score walk: range terms, then grow terms.
    private readonly double[] _terms;

    // Scratch for one insertion step: the box of a node merged with the new point, and its ranges.
    private readonly double[] _mergedLo, _mergedHi, _mergedRange;

    public RcfTree(int dimensions, int capacity, double timeDecay, ulong seed)
    {
        _dim = dimensions;
        _capacity = capacity;
        _timeDecay = timeDecay;
        _random = new RcfRandom(seed);
        var nodes = capacity;
        _nodeData = AllocateAligned(nodes * NodeDoubles, out _nodeBase);
        _stride = 2 * dimensions;
        _box = AllocateAligned(nodes * _stride, out _boxBase);
        _freeNodes = new int[nodes];
        _leafParent = new int[capacity];
        _leafMass = new int[capacity];
        _leafPoint = AllocateAligned(capacity * dimensions, out _leafBase);
        _freeLeaves = new int[capacity];
        _weight = new double[capacity];
        _heapLeaf = new int[capacity];
        _path = new int[capacity + 1];
        _terms = new double[2 * dimensions];
        _mergedLo = new double[dimensions];
        _mergedHi = new double[dimensions];
        _mergedRange = new double[dimensions];
        _log2MassPlusOne = Log2Tables.GetOrAdd(capacity, static c =>
        {
            var table = new double[c + 1];
            for (var m = 0; m <= c; m++)
            {
                table[m] = Math.Log2(m + 1.0);
            }

            return table;
        });

        ResetFreeLists();
    }

    private const int NodeDoubles = 4; // sizeof(Node) / sizeof(double)

    /// <summary>
    /// A pinned array with at least <paramref name="length"/> doubles from <paramref name="offset"/>, where the
    /// element at the offset lies on a 64-byte boundary. Pinned (once, at construction) so the alignment holds.
    /// </summary>
    private static double[] AllocateAligned(int length, out int offset)
    {
        var array = GC.AllocateArray<double>(length + 8, pinned: true);
        var address = (long)Marshal.UnsafeAddrOfPinnedArrayElement(array, 0);
        offset = (int)(((64 - (address & 63)) & 63) / sizeof(double));
        return array;
    }

    /// <summary>The internal nodes, viewed over their aligned storage (bounds-checked like an array).</summary>
    private Span<Node> Nodes => MemoryMarshal.Cast<double, Node>(_nodeData.AsSpan(_nodeBase, _capacity * NodeDoubles));

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
    public int Mass => _root == Null ? 0 : _root < 0 ? _leafMass[~_root] : Nodes[_root].Mass;

    /// <summary>Offers the point with its sequence index to the reservoir; on acceptance the tree changes.</summary>
    public void Update(ReadOnlySpan<double> point, long sequence)
    {
        var u = _random.NextDouble();
        while (u == 0)
        {
            u = _random.NextDouble();
        }

        // Most points are rejected once the sample is full; a cached bound rejects them without the two logs.
        if (_size >= _capacity && u <= RejectBound(sequence))
        {
            return;
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

    /// <summary>
    /// A u at or below this is certainly rejected for this sequence: log(-log u) decreases in u, and with
    /// T = w0 + sequence * decay the exact test accepts only when log(-log u) &lt; T, i.e. u &gt; exp(-exp(T)).
    /// The bound is computed for the last sequence of a span of <see cref="BoundSpan"/> (T grows with the
    /// sequence, so it is below the true boundary for the whole span) and shrunk by a relative 1e-6, a margin
    /// far above the rounding of either side, so the fast path only rejects what the exact test would reject:
    /// results are unchanged bit for bit. Derived state only: not persisted, rebuilt on demand.
    /// </summary>
    private double RejectBound(long sequence)
    {
        var w0 = _weight[0];
        if (sequence >= _boundUntil || BitConverter.DoubleToInt64Bits(w0) != BitConverter.DoubleToInt64Bits(_boundWeight))
        {
            _boundWeight = w0;
            _boundUntil = sequence + BoundSpan;
            _rejectBelow = Math.Exp(-Math.Exp(w0 + (_boundUntil * _timeDecay))) * (1 - 1e-6);
        }

        return _rejectBelow;
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
        var offset = _leafBase + (leaf * _dim);
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
        point.CopyTo(_leafPoint.AsSpan(_leafBase + (leaf * _dim), _dim));
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
            Nodes[node].Parent = parent;
        }
    }

    private void ReplaceChild(int parent, int oldChild, int newChild)
    {
        if (parent == Null)
        {
            _root = newChild;
            return;
        }

        ref var p = ref Nodes[parent];
        if (p.Left == oldChild)
        {
            p.Left = newChild;
        }
        else
        {
            p.Right = newChild;
        }
    }

    /// <summary>
    /// The child on the point's side of the node's cut: left when point[CutDim] &lt;= CutValue, right otherwise
    /// (NaN included). Picked by index, not by a branch: the side is a coin flip to the branch predictor, and a
    /// mispredicted step of a descent throws away the loads it had started.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Child(ref Node node, ReadOnlySpan<double> point)
    {
        var right = !(point[node.CutDim] <= node.CutValue);
        return Unsafe.Add(ref node.Left, Unsafe.As<bool, byte>(ref right));
    }

    /// <summary>A node's box as two spans (a leaf's box is its point: both spans are the same).</summary>
    private void Box(int node, out ReadOnlySpan<double> min, out ReadOnlySpan<double> max)
    {
        if (node < 0)
        {
            min = _leafPoint.AsSpan(_leafBase + (~node * _dim), _dim);
            max = min;
        }
        else
        {
            min = _box.AsSpan(_boxBase + (node * _stride), _dim);
            max = _box.AsSpan(_boxBase + (node * _stride) + _dim, _dim);
        }
    }

    /// <summary>
    /// The box merged with the point, per dimension (lo = Math.Min, hi = Math.Max, range = hi - lo), and the sum of
    /// the ranges. Vector256 lanes compute exactly the scalar values (Vector256.Min/Max follow Math.Min/Max), and
    /// the ranges are added one by one in dimension order, so the sum has the same bits as a scalar loop.
    /// </summary>
    private static double MergeWithPoint(
        ReadOnlySpan<double> point, ReadOnlySpan<double> min, ReadOnlySpan<double> max, Span<double> lo, Span<double> hi, Span<double> range)
    {
        var dim = point.Length;
        var sum = 0.0;
        var k = 0;
        if (Vector256.IsHardwareAccelerated && dim >= 4 && min.Length >= dim && max.Length >= dim && lo.Length >= dim && hi.Length >= dim && range.Length >= dim)
        {
            ref var x0 = ref MemoryMarshal.GetReference(point);
            ref var min0 = ref MemoryMarshal.GetReference(min);
            ref var max0 = ref MemoryMarshal.GetReference(max);
            ref var lo0 = ref MemoryMarshal.GetReference(lo);
            ref var hi0 = ref MemoryMarshal.GetReference(hi);
            ref var range0 = ref MemoryMarshal.GetReference(range);
            for (; k + 4 <= dim; k += 4)
            {
                var x = Vector256.LoadUnsafe(ref x0, (nuint)k);
                var l = Vector256.Min(Vector256.LoadUnsafe(ref min0, (nuint)k), x);
                var h = Vector256.Max(Vector256.LoadUnsafe(ref max0, (nuint)k), x);
                var r = h - l;
                l.StoreUnsafe(ref lo0, (nuint)k);
                h.StoreUnsafe(ref hi0, (nuint)k);
                r.StoreUnsafe(ref range0, (nuint)k);
                sum += r.GetElement(0);
                sum += r.GetElement(1);
                sum += r.GetElement(2);
                sum += r.GetElement(3);
            }
        }

        for (; k < dim; k++)
        {
            var l = Math.Min(min[k], point[k]);
            var h = Math.Max(max[k], point[k]);
            lo[k] = l;
            hi[k] = h;
            range[k] = h - l;
            sum += h - l;
        }

        return sum;
    }

    private bool InBox(int node, ReadOnlySpan<double> point)
    {
        Box(node, out var min, out var max);
        return Contains(min, max, point);
    }

    /// <summary>Whether min[k] &lt;= point[k] &lt;= max[k] in every dimension (false for NaN).</summary>
    private static bool Contains(ReadOnlySpan<double> min, ReadOnlySpan<double> max, ReadOnlySpan<double> point)
    {
        var dim = point.Length;
        var k = 0;
        if (Vector256.IsHardwareAccelerated && dim >= 4 && min.Length >= dim && max.Length >= dim)
        {
            ref var x0 = ref MemoryMarshal.GetReference(point);
            ref var min0 = ref MemoryMarshal.GetReference(min);
            ref var max0 = ref MemoryMarshal.GetReference(max);
            for (; k + 4 <= dim; k += 4)
            {
                var x = Vector256.LoadUnsafe(ref x0, (nuint)k);
                if (!Vector256.LessThanOrEqualAll(Vector256.LoadUnsafe(ref min0, (nuint)k), x)
                    || !Vector256.LessThanOrEqualAll(x, Vector256.LoadUnsafe(ref max0, (nuint)k)))
                {
                    return false;
                }
            }
        }

        for (; k < dim; k++)
        {
            if (!(min[k] <= point[k] && point[k] <= max[k]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Extends a box (minima then maxima) to hold the point: a coordinate is replaced only when the point lies
    /// strictly outside, as in "if (x &lt; min) min = x", so even the sign of a zero bound stays as it was.
    /// </summary>
    private static void GrowBox(ReadOnlySpan<double> point, Span<double> box)
    {
        var dim = point.Length;
        var min = box[..dim];
        var max = box.Slice(dim, dim);
        var k = 0;
        if (Vector256.IsHardwareAccelerated && dim >= 4)
        {
            ref var x0 = ref MemoryMarshal.GetReference(point);
            ref var min0 = ref MemoryMarshal.GetReference(min);
            ref var max0 = ref MemoryMarshal.GetReference(max);
            for (; k + 4 <= dim; k += 4)
            {
                var x = Vector256.LoadUnsafe(ref x0, (nuint)k);
                var l = Vector256.LoadUnsafe(ref min0, (nuint)k);
                var h = Vector256.LoadUnsafe(ref max0, (nuint)k);
                Vector256.ConditionalSelect(Vector256.LessThan(x, l), x, l).StoreUnsafe(ref min0, (nuint)k);
                Vector256.ConditionalSelect(Vector256.GreaterThan(x, h), x, h).StoreUnsafe(ref max0, (nuint)k);
            }
        }

        for (; k < dim; k++)
        {
            if (point[k] < min[k])
            {
                min[k] = point[k];
            }

            if (point[k] > max[k])
            {
                max[k] = point[k];
            }
        }
    }

    /// <summary>
    /// Recomputes a box (minima then maxima) as the union of its children's boxes; returns whether it changed.
    /// A coordinate pair is rewritten only where either bound compares unequal, exactly as the scalar rule
    /// "if (lo != min || hi != max) { min = lo; max = hi; }", so the stored bits match it.
    /// </summary>
    private static bool MergeChildren(
        ReadOnlySpan<double> leftMin, ReadOnlySpan<double> leftMax, ReadOnlySpan<double> rightMin, ReadOnlySpan<double> rightMax, Span<double> box)
    {
        var dim = leftMin.Length;
        var min = box[..dim];
        var max = box.Slice(dim, dim);
        var changed = false;
        var k = 0;
        if (Vector256.IsHardwareAccelerated && dim >= 4 && leftMax.Length >= dim && rightMin.Length >= dim && rightMax.Length >= dim)
        {
            ref var lmin0 = ref MemoryMarshal.GetReference(leftMin);
            ref var lmax0 = ref MemoryMarshal.GetReference(leftMax);
            ref var rmin0 = ref MemoryMarshal.GetReference(rightMin);
            ref var rmax0 = ref MemoryMarshal.GetReference(rightMax);
            ref var min0 = ref MemoryMarshal.GetReference(min);
            ref var max0 = ref MemoryMarshal.GetReference(max);
            var anyDiffers = Vector256<double>.Zero;
            for (; k + 4 <= dim; k += 4)
            {
                var lo = Vector256.Min(Vector256.LoadUnsafe(ref lmin0, (nuint)k), Vector256.LoadUnsafe(ref rmin0, (nuint)k));
                var hi = Vector256.Max(Vector256.LoadUnsafe(ref lmax0, (nuint)k), Vector256.LoadUnsafe(ref rmax0, (nuint)k));
                var oldLo = Vector256.LoadUnsafe(ref min0, (nuint)k);
                var oldHi = Vector256.LoadUnsafe(ref max0, (nuint)k);
                var differs = ~(Vector256.Equals(lo, oldLo) & Vector256.Equals(hi, oldHi));
                Vector256.ConditionalSelect(differs, lo, oldLo).StoreUnsafe(ref min0, (nuint)k);
                Vector256.ConditionalSelect(differs, hi, oldHi).StoreUnsafe(ref max0, (nuint)k);
                anyDiffers |= differs;
            }

            // Compared as bits: a set mask lane is a NaN as a double, and NaN compares unequal to everything.
            changed = anyDiffers.AsUInt64() != Vector256<ulong>.Zero;
        }

        for (; k < dim; k++)
        {
            var lo = Math.Min(leftMin[k], rightMin[k]);
            var hi = Math.Max(leftMax[k], rightMax[k]);
            if (lo != min[k] || hi != max[k])
            {
                min[k] = lo;
                max[k] = hi;
                changed = true;
            }
        }

        return changed;
    }

    /// <summary>Guha et al.'s insertion: descend while a random cut of the enlarged box falls inside the old box.</summary>
    private int Insert(ReadOnlySpan<double> point)
    {
        if (_root == Null)
        {
            var first = NewLeaf(point, Null);
            _root = ~first;
            return first;
        }

        var nodes = Nodes;
        var mergedLo = _mergedLo.AsSpan();
        var mergedHi = _mergedHi.AsSpan();
        var mergedRange = _mergedRange.AsSpan();
        var node = _root;
        var parent = Null;
        while (true)
        {
            if (node < 0 && LeafEquals(~node, point))
            {
                _leafMass[~node]++;
                return ~node;
            }

            Box(node, out var boxMin, out var boxMax);
            if (node >= 0 && Contains(boxMin, boxMax, point))
            {
                // A point inside the box cannot be separated here: the cut lands in [min, max] of some dimension,
                // never strictly beyond the point. Only the draw is kept, so the random sequence (and every later
                // cut) stays exactly as before; the box does not grow.
                _random.NextULong();
                ref var inside = ref nodes[node];
                inside.Mass++;
                parent = node;
                node = Child(ref inside, point);
                continue;
            }

            var rangeSum = MergeWithPoint(point, boxMin, boxMax, mergedLo, mergedHi, mergedRange);
            var r = _random.NextDouble() * rangeSum;
            var dim = -1;
            var cut = 0.0;
            for (var k = 0; k < point.Length; k++)
            {
                var lo = mergedLo[k];
                var range = mergedRange[k];
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
                var bmin = boxMin[dim];
                var bmax = boxMax[dim];
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
                ref var n = ref nodes[inner];
                n.CutDim = dim;
                n.CutValue = cut;
                n.Left = pointLeft ? ~leaf : node;
                n.Right = pointLeft ? node : ~leaf;
                n.Parent = parent;
                n.Mass = (node < 0 ? _leafMass[~node] : nodes[node].Mass) + 1;
                var o = _boxBase + (inner * _stride);
                mergedLo.CopyTo(_box.AsSpan(o, _dim));
                mergedHi.CopyTo(_box.AsSpan(o + _dim, _dim));

                ReplaceChild(parent, node, inner);
                SetParent(node, inner);
                return leaf;
            }

            // The point stays inside this subtree: it grows the box and the mass on its way down.
            GrowBox(point, _box.AsSpan(_boxBase + (node * _stride), _stride));

            ref var current = ref nodes[node];
            current.Mass++;
            parent = node;
            node = Child(ref current, point);
        }
    }

    private void Delete(int leaf)
    {
        var nodes = Nodes;
        if (--_leafMass[leaf] > 0)
        {
            for (var n = _leafParent[leaf]; n != Null; n = nodes[n].Parent)
            {
                nodes[n].Mass--;
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

        var sibling = nodes[parent].Left == ~leaf ? nodes[parent].Right : nodes[parent].Left;
        var grand = nodes[parent].Parent;
        ReplaceChild(grand, parent, sibling);
        SetParent(sibling, grand);
        _freeNodes[_freeNodeCount++] = parent;

        var boxesSettled = false;
        for (var n = grand; n != Null; n = nodes[n].Parent)
        {
            nodes[n].Mass--;
            if (boxesSettled)
            {
                continue;
            }

            Box(nodes[n].Left, out var leftMin, out var leftMax);
            Box(nodes[n].Right, out var rightMin, out var rightMax);
            var changed = MergeChildren(leftMin, leftMax, rightMin, rightMax, _box.AsSpan(_boxBase + (n * _stride), _stride));

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

        var nodes = Nodes;
        var depth = 0;
        var node = _root;
        while (node >= 0)
        {
            _path[depth++] = node;
            node = Child(ref nodes[node], point);
        }

        return ScoreFromPath(point, depth, node);
    }

    /// <summary>
    /// <see cref="Score"/> of one point in two trees at once: the two descents are independent chains of cache
    /// misses, so running them in lockstep lets the processor overlap them. Results are exactly those of
    /// calling <see cref="Score"/> on each tree.
    /// </summary>
    public static void ScorePair(RcfTree a, RcfTree b, ReadOnlySpan<double> point, out double scoreA, out double scoreB)
    {
        if (a._root == Null || b._root == Null)
        {
            scoreA = a.Score(point);
            scoreB = b.Score(point);
            return;
        }

        int na = a._root, nb = b._root, da = 0, db = 0;
        var nodesA = a.Nodes;
        var nodesB = b.Nodes;
        var pathA = a._path;
        var pathB = b._path;
        while (na >= 0 && nb >= 0)
        {
            pathA[da++] = na;
            pathB[db++] = nb;
            na = Child(ref nodesA[na], point);
            nb = Child(ref nodesB[nb], point);
        }

        while (na >= 0)
        {
            pathA[da++] = na;
            na = Child(ref nodesA[na], point);
        }

        while (nb >= 0)
        {
            pathB[db++] = nb;
            nb = Child(ref nodesB[nb], point);
        }

        scoreA = a.ScoreFromPath(point, da, na);
        scoreB = b.ScoreFromPath(point, db, nb);
    }

    /// <summary>The score once the descent has filled <c>_path[0..depth)</c> and ended at leaf <c>node</c> (encoded).</summary>
    private double ScoreFromPath(ReadOnlySpan<double> point, int depth, int node)
    {
        var treeMass = Mass;
        var leaf = ~node;
        double score;

        // The leaf's point lies in its parent's box (boxes are exact minima and maxima), so a point outside that
        // box cannot equal it: the leaf's point, a likely cache miss, is read only when the point is inside.
        if ((depth == 0 || InBox(_path[depth - 1], point)) && LeafEquals(leaf, point))
        {
            var m = _leafMass[leaf];
            var damp = 1.0 - (m / (2.0 * treeMass));
            score = damp / (depth + (Math.Log(m + 1.0) / Math.Log(2.0)));
            return score * _log2MassPlusOne[treeMass];
        }

        score = 1.0 / (depth + 1);
        ref var box = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_box), _boxBase);
        ref var path = ref MemoryMarshal.GetArrayDataReference(_path);
        ref var x0 = ref MemoryMarshal.GetReference(point);
        var dim = _dim;
        if (Vector256.IsHardwareAccelerated && dim >= 4)
        {
            return WalkUpVector(point, depth, score) * _log2MassPlusOne[treeMass];
        }

        for (var d = depth - 1; d >= 0; d--)
        {
            ref var lo = ref Unsafe.Add(ref box, Unsafe.Add(ref path, d) * _stride);
            ref var hi = ref Unsafe.Add(ref lo, dim);
            var newRange = 0.0;
            var grow = 0.0;
            for (var k = 0; k < dim; k++)
            {
                // Branch-free form of: below the box adds (lo - x) to grow and (hi - x) to the range, above it
                // (x - hi) and (x - lo), inside it 0 and (hi - lo); the same terms in the same order, so the
                // same bits. At most one of the two grow parts is non-zero, and adding +0 changes nothing.
                var l = Unsafe.Add(ref lo, k);
                var h = Unsafe.Add(ref hi, k);
                var x = Unsafe.Add(ref x0, k);
                newRange += Math.Max(h, x) - Math.Min(l, x);
                grow += Math.Max(l - x, 0.0) + Math.Max(x - h, 0.0);
            }

            if (grow <= 0)
            {
                break; // inside this box, hence inside every box above it
            }

            var p = grow / newRange;
            score = (p / (d + 1)) + ((1 - p) * score);
        }

        return score * _log2MassPlusOne[treeMass];
    }

    /// <summary>
    /// The upward walk of <see cref="ScoreFromPath"/> for four or more dimensions. Each level's per-dimension terms
    /// are computed four at a time into <see cref="_terms"/> (range terms, then grow terms) and added one by one
    /// in dimension order, as the scalar loop adds them: the same bits. Whether the point is inside the box (every
    /// grow term +0, so the grow sum is +0) is known from the vectors before any adding, which ends the walk
    /// without the two sums on its last level and settles that hard-to-predict branch early.
    /// </summary>
    private double WalkUpVector(ReadOnlySpan<double> point, int depth, double score)
    {
        var dim = _dim;
        var terms = _terms.AsSpan(0, 2 * dim);
        ref var box = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_box), _boxBase);
        ref var path = ref MemoryMarshal.GetArrayDataReference(_path);
        ref var x0 = ref MemoryMarshal.GetReference(point);
        ref var range0 = ref MemoryMarshal.GetReference(terms);
        ref var grow0 = ref Unsafe.Add(ref range0, dim);
        for (var d = depth - 1; d >= 0; d--)
        {
            ref var lo = ref Unsafe.Add(ref box, Unsafe.Add(ref path, d) * _stride);
            ref var hi = ref Unsafe.Add(ref lo, dim);
            var outside = Vector256<double>.Zero;
            var k = 0;
            for (; k + 4 <= dim; k += 4)
            {
                var vl = Vector256.LoadUnsafe(ref lo, (nuint)k);
                var vh = Vector256.LoadUnsafe(ref hi, (nuint)k);
                var vx = Vector256.LoadUnsafe(ref x0, (nuint)k);
                (Vector256.Max(vh, vx) - Vector256.Min(vl, vx)).StoreUnsafe(ref range0, (nuint)k);
                var g = Vector256.Max(vl - vx, Vector256<double>.Zero) + Vector256.Max(vx - vh, Vector256<double>.Zero);
                g.StoreUnsafe(ref grow0, (nuint)k);
                outside |= g; // grow terms are +0 or positive: any set bit means a positive term
            }

            var tailOutside = false;
            for (; k < dim; k++)
            {
                var l = Unsafe.Add(ref lo, k);
                var h = Unsafe.Add(ref hi, k);
                var x = Unsafe.Add(ref x0, k);
                Unsafe.Add(ref range0, k) = Math.Max(h, x) - Math.Min(l, x);
                var g = Math.Max(l - x, 0.0) + Math.Max(x - h, 0.0);
                Unsafe.Add(ref grow0, k) = g;
                tailOutside |= g > 0;
            }

            if (outside.AsUInt64() == Vector256<ulong>.Zero && !tailOutside)
            {
                break; // inside this box, hence inside every box above it
            }

            var newRange = 0.0;
            var grow = 0.0;
            for (k = 0; k < dim; k++)
            {
                newRange += Unsafe.Add(ref range0, k);
                grow += Unsafe.Add(ref grow0, k);
            }

            var p = grow / newRange;
            score = (p / (d + 1)) + ((1 - p) * score);
        }

        return score;
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

        var nodes = Nodes;
        var depth = 0;
        var node = _root;
        while (node >= 0)
        {
            _path[depth++] = node;
            node = Child(ref nodes[node], point);
        }

        var treeMass = Mass;
        var norm = _log2MassPlusOne[treeMass];
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
        var lo0 = _leafBase + (leaf * _dim);
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
            var o = _boxBase + (_path[d] * _stride);
            var h = o + _dim;
            var newRange = 0.0;
            for (var k = 0; k < _dim; k++)
            {
                newRange += Math.Max(_box[h + k], point[k]) - Math.Min(_box[o + k], point[k]);
            }

            var p = 0.0;
            for (var k = 0; k < _dim; k++)
            {
                p += Math.Max(0, point[k] - _box[h + k]) + Math.Max(0, _box[o + k] - point[k]);
            }

            if (p <= 0)
            {
                break;
            }

            var u = 1.0 / (d + 1);
            for (var k = 0; k < _dim; k++)
            {
                var ph = Math.Max(0, point[k] - _box[h + k]) / newRange;
                var pl = Math.Max(0, _box[o + k] - point[k]) / newRange;
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
        // Layout unchanged from the struct-of-arrays version: one field of every node after another.
        var nodes = Nodes;
        foreach (ref readonly var n in nodes)
        {
            w.Write(n.Left);
        }

        foreach (ref readonly var n in nodes)
        {
            w.Write(n.Right);
        }

        foreach (ref readonly var n in nodes)
        {
            w.Write(n.Parent);
        }

        foreach (ref readonly var n in nodes)
        {
            w.Write(n.CutDim);
        }

        foreach (ref readonly var n in nodes)
        {
            w.Write(n.Mass);
        }

        WriteInts(w, _freeNodes);
        WriteInts(w, _leafParent);
        WriteInts(w, _leafMass);
        WriteInts(w, _freeLeaves);
        WriteInts(w, _heapLeaf);
        foreach (ref readonly var n in nodes)
        {
            w.Write(n.CutValue);
        }

        WriteBoxes(w, 0);
        WriteBoxes(w, _dim);
        WriteDoubles(w, _leafPoint.AsSpan(_leafBase, _capacity * _dim));
        WriteDoubles(w, _weight);
    }

    public void Read(BinaryReader r)
    {
        _boundUntil = long.MinValue;
        _random.Read(r);
        _root = r.ReadInt32();
        _size = r.ReadInt32();
        _freeNodeCount = r.ReadInt32();
        _freeLeafCount = r.ReadInt32();
        var nodes = Nodes;
        foreach (ref var n in nodes)
        {
            n.Left = r.ReadInt32();
        }

        foreach (ref var n in nodes)
        {
            n.Right = r.ReadInt32();
        }

        foreach (ref var n in nodes)
        {
            n.Parent = r.ReadInt32();
        }

        foreach (ref var n in nodes)
        {
            n.CutDim = r.ReadInt32();
        }

        foreach (ref var n in nodes)
        {
            n.Mass = r.ReadInt32();
        }

        ReadInts(r, _freeNodes);
        ReadInts(r, _leafParent);
        ReadInts(r, _leafMass);
        ReadInts(r, _freeLeaves);
        ReadInts(r, _heapLeaf);
        foreach (ref var n in nodes)
        {
            n.CutValue = r.ReadDouble();
        }

        ReadBoxes(r, 0);
        ReadBoxes(r, _dim);
        ReadDoubles(r, _leafPoint.AsSpan(_leafBase, _capacity * _dim));
        ReadDoubles(r, _weight);
    }

    private static void WriteInts(BinaryWriter w, int[] a)
    {
        foreach (var x in a)
        {
            w.Write(x);
        }
    }

    private static void WriteDoubles(BinaryWriter w, ReadOnlySpan<double> a)
    {
        foreach (var x in a)
        {
            w.Write(x);
        }
    }

    // The state layout predates the interleaved boxes: all minima (node by node), then all maxima.
    private void WriteBoxes(BinaryWriter w, int half)
    {
        for (var node = 0; node < _capacity; node++)
        {
            var o = _boxBase + (node * _stride) + half;
            for (var k = 0; k < _dim; k++)
            {
                w.Write(_box[o + k]);
            }
        }
    }

    private void ReadBoxes(BinaryReader r, int half)
    {
        for (var node = 0; node < _capacity; node++)
        {
            var o = _boxBase + (node * _stride) + half;
            for (var k = 0; k < _dim; k++)
            {
                _box[o + k] = r.ReadDouble();
            }
        }
    }

    private static void ReadInts(BinaryReader r, int[] a)
    {
        for (var i = 0; i < a.Length; i++)
        {
            a[i] = r.ReadInt32();
        }
    }

    private static void ReadDoubles(BinaryReader r, Span<double> a)
    {
        for (var i = 0; i < a.Length; i++)
        {
            a[i] = r.ReadDouble();
        }
    }

    // 32 bytes (NodeDoubles doubles): two nodes per cache line in the aligned storage.
    [StructLayout(LayoutKind.Sequential, Size = 32)]
    private struct Node
    {
        public double CutValue;
        public int Left;
        public int Right; // must directly follow Left: Child picks the link by offset from Left
        public int CutDim;
        public int Mass;
        public int Parent;
    }
}
