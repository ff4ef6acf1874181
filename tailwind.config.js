// Tailwind scans the templ sources and the Go code that builds class names
// (views only: handlers never name CSS classes), so every class used is kept.
/** @type {import('tailwindcss').Config} */
module.exports = {
  content: [
    './views/**/*.templ',
    './views/**/*.go',
  ],
  // The component classes of static/css/input.css are always built, so Go
  // code may pick one by name at run time (a badge color per status, say)
  // without Tailwind seeing the literal.
  safelist: [
    'btn', 'btn-primary', 'btn-danger',
    'input', 'input-error', 'label', 'field-error',
    'card',
    'badge', 'badge-amber', 'badge-green', 'badge-gray', 'badge-red',
    'table', 'table-wrap',
  ],
  theme: {
    extend: {
      colors: {
        // Partli's brand color: an indigo a touch warmer than Tailwind's own.
        brand: {
          50: '#eef2ff',
          100: '#e0e7ff',
          200: '#c7d2fe',
          300: '#a5b4fc',
          400: '#818cf8',
          500: '#6366f1',
          600: '#4f46e5',
          700: '#4338ca',
          800: '#3730a3',
          900: '#312e81',
          950: '#1e1b4b',
          DEFAULT: '#4f46e5',
        },
      },
    },
  },
  plugins: [
    // Class strategy only: forms get styled where they opt in (.input, form-*),
    // so third-party markup is left alone.
    require('@tailwindcss/forms')({ strategy: 'class' }),
  ],
};
