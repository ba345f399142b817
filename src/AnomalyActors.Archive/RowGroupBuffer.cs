using Parquet;

namespace AnomalyActors.Archive;

/// <summary>
/// The rows of one row group gathered column by column as they come, so that writing hands Parquet
/// its columns without copying rows; one buffer serves row group after row group.
/// </summary>
public interface IRowGroupBuffer<TRow>
{
    int Count { get; }

    void Add(in TRow row);

    /// <summary>Writes the rows as one row group, every column in schema order, and empties the buffer.</summary>
    Task WriteAsync(ParquetRowGroupWriter rowGroup);
}

/// <summary>One column of a <see cref="IRowGroupBuffer{TRow}"/>: an array grown as rows come and kept for the next row group.</summary>
internal sealed class Column<T>
{
    private T[] _values = new T[1024];

    public void Set(int index, T value)
    {
        if (index == _values.Length)
        {
            Array.Resize(ref _values, index * 2);
        }

        _values[index] = value;
    }

    public ReadOnlyMemory<T> Values(int count) => _values.AsMemory(0, count);

    public ArraySegment<T> Segment(int count) => new(_values, 0, count);

    /// <summary>Lets go of the references of a written row group (texts made for single rows).</summary>
    public void Forget(int count) => Array.Clear(_values, 0, count);
}
