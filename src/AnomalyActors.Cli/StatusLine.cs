using System.Text;

namespace AnomalyActors.Cli;

/// <summary>
/// A progress line at the bottom of a terminal that output lines never run into: while it is shown,
/// everything written to the console's standard output first erases it, goes out on lines of its own,
/// and the status is drawn again under it. On a redirected output it only prints the lines it is given.
/// </summary>
internal sealed class StatusLine : IDisposable
{
    // On a terminal every console write, to standard error too, takes the monitor of Console.Out
    // (.NET's Unix console serialises its writers that way), and a line written to Console.Out holds
    // that monitor while it reaches this class. The gate is therefore that same monitor: with a gate
    // of its own, a thread drawing the status (gate, then a console write) and one printing a line
    // (Console.Out, then the gate) could each hold what the other waits for, and the process hung.
    private readonly object _gate;
    private readonly TextWriter _out;
    private readonly TextWriter _err;
    private readonly bool _terminal;
    private string _status = string.Empty;

    public StatusLine()
    {
        _out = Console.Out;
        _err = Console.Error;
        _terminal = !Console.IsErrorRedirected && !Console.IsOutputRedirected;
        if (_terminal)
        {
            Console.SetOut(new Lines(this));
            _gate = Console.Out;
        }
        else
        {
            _gate = new object();
        }
    }

    public bool IsTerminal => _terminal;

    /// <summary>Shows <paramref name="text"/> as the status (terminal) or does nothing (redirected).</summary>
    public void Show(string text)
    {
        if (!_terminal)
        {
            return;
        }

        lock (_gate)
        {
            Erase();
            _status = text;
            _err.Write(text);
            _err.Flush();
        }
    }

    /// <summary>A line of its own on standard error, under any status.</summary>
    public void Line(string text)
    {
        lock (_gate)
        {
            Erase();
            _err.WriteLine(text);
            Redraw();
        }
    }

    private void Write(string text)
    {
        lock (_gate)
        {
            Erase();
            _out.Write(text);
            _out.Flush();
            Redraw();
        }
    }

    private void Erase()
    {
        if (_status.Length > 0)
        {
            _err.Write("\r" + new string(' ', _status.Length) + "\r");
            _err.Flush();
        }
    }

    private void Redraw()
    {
        if (_status.Length > 0)
        {
            _err.Write(_status);
            _err.Flush();
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            Erase();
            _status = string.Empty;
        }

        if (_terminal)
        {
            Console.SetOut(_out);
        }
    }

    /// <summary>Standard output while the status is shown: whole lines only, each passed to the status line.</summary>
    private sealed class Lines(StatusLine status) : TextWriter
    {
        private readonly StringBuilder _pending = new();

        public override Encoding Encoding => status._out.Encoding;

        public override void Write(char value)
        {
            lock (_pending)
            {
                _pending.Append(value);
                if (value == '\n')
                {
                    status.Write(_pending.ToString());
                    _pending.Clear();
                }
            }
        }

        public override void Write(string? value)
        {
            if (value is null)
            {
                return;
            }

            lock (_pending)
            {
                _pending.Append(value);
                var text = _pending.ToString();
                var end = text.LastIndexOf('\n');
                if (end >= 0)
                {
                    status.Write(text[..(end + 1)]);
                    _pending.Clear().Append(text[(end + 1)..]);
                }
            }
        }

        public override void WriteLine(string? value) => Write((value ?? string.Empty) + Environment.NewLine);
    }
}
