using Akka.Configuration;

namespace AnomalyActors.Core.Configuration;

/// <summary>
/// A lexical check of a HOCON file before Akka's parser sees it. That parser accepts an unclosed
/// '{' (a doubled '{' after a key reads as one), takes an unterminated quote to the end of the file,
/// and never returns on some unbalanced brackets; this check refuses those with the file, line and
/// column instead.
/// </summary>
public static class HoconChecker
{
    public static void Check(string text, string file)
    {
        var open = new Stack<(char Bracket, int Line, int Column)>();
        var line = 1;
        var column = 1;
        var i = 0;

        char Peek(int ahead = 0) => i + ahead < text.Length ? text[i + ahead] : '\0';

        void Advance()
        {
            if (text[i] == '\n')
            {
                line++;
                column = 1;
            }
            else
            {
                column++;
            }

            i++;
        }

        ConfigurationException Error(int atLine, int atColumn, string what) =>
            new($"Configuration file '{file}' line {atLine}, column {atColumn}: {what}");

        while (i < text.Length)
        {
            var c = text[i];
            if (c == '#' || (c == '/' && Peek(1) == '/'))
            {
                while (i < text.Length && text[i] != '\n')
                {
                    Advance();
                }

                continue;
            }

            if (c == '"' && Peek(1) == '"' && Peek(2) == '"')
            {
                var (startLine, startColumn) = (line, column);
                Advance();
                Advance();
                Advance();
                while (!(Peek() == '"' && Peek(1) == '"' && Peek(2) == '"'))
                {
                    if (i >= text.Length)
                    {
                        throw Error(startLine, startColumn, "the triple-quoted string starting here is never closed.");
                    }

                    Advance();
                }

                Advance();
                Advance();
                Advance();
                continue;
            }

            if (c == '"')
            {
                var (startLine, startColumn) = (line, column);
                Advance();
                while (Peek() != '"')
                {
                    if (i >= text.Length || Peek() == '\n')
                    {
                        throw Error(startLine, startColumn, "the quoted string starting here is not closed on its line.");
                    }

                    if (Peek() == '\\')
                    {
                        Advance();
                    }

                    Advance();
                }

                Advance();
                continue;
            }

            if (c == '$' && Peek(1) == '{')
            {
                var (startLine, startColumn) = (line, column);
                while (Peek() != '}')
                {
                    if (i >= text.Length || Peek() == '\n')
                    {
                        throw Error(startLine, startColumn, "the substitution ${...} starting here is not closed on its line.");
                    }

                    Advance();
                }

                Advance();
                continue;
            }

            if (c is '{' or '[')
            {
                if (c == '{' && open.Count > 0 && open.Peek() is { Bracket: '{' } previous && previous.Line == line && previous.Column == column - 1)
                {
                    throw Error(line, column, "'{{' opens two objects with no key between them; a typo?");
                }

                open.Push((c, line, column));
            }
            else if (c is '}' or ']')
            {
                var expected = c == '}' ? '{' : '[';
                if (open.Count == 0)
                {
                    throw Error(line, column, $"'{c}' closes nothing.");
                }

                var opened = open.Pop();
                if (opened.Bracket != expected)
                {
                    throw Error(line, column, $"'{c}' closes the '{opened.Bracket}' of line {opened.Line}, column {opened.Column}.");
                }
            }

            Advance();
        }

        if (open.Count > 0)
        {
            var unclosed = open.Peek();
            throw Error(unclosed.Line, unclosed.Column, $"the '{unclosed.Bracket}' opened here is never closed.");
        }
    }
}
